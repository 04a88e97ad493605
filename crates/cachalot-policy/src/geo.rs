//! Geo restriction and the `CloudFront-Viewer-*` location headers.
//!
//! A distribution's `Restrictions.GeoRestriction` lets only the countries of a
//! `whitelist` in, or keeps those of a `blacklist` out; a refused viewer gets 403 and the
//! request is logged with the detailed result type `ClientGeoBlocked`
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/georestrictions.html>).
//! CloudFront adds location headers only when a cache policy or origin request policy
//! names them (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/adding-cloudfront-headers.html>);
//! a viewer's own copies of those headers never reach the origin.

use crate::result::{DetailedResultType, ResultType};
use crate::viewer::Rejection;
use cachalot_config::model::{Behavior, HeaderForwarding, NameRule};

/// The refusal of a viewer from a restricted country.
pub fn blocked() -> Rejection {
    Rejection {
        status: 403,
        result: ResultType::Error,
        detailed: DetailedResultType::ClientGeoBlocked,
        message: "The Amazon CloudFront distribution is configured to block access from your country.",
        close: false,
        logged: true,
    }
}

/// Where a viewer is, as far as the location database knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewerLocation {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Country name in English.
    pub country_name: Option<String>,
    /// ISO 3166-2 code of the region (first subdivision), without the country prefix.
    pub region: Option<String>,
    /// Region name in English.
    pub region_name: Option<String>,
    /// City name in English.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// US metro code.
    pub metro_code: Option<u16>,
}

/// What every name in [`LOCATION_HEADERS`] starts with: a request whose names lack it has none.
pub const LOCATION_PREFIX: &str = "cloudfront-viewer-";

/// The location headers CloudFront generates, lower-case.
pub const LOCATION_HEADERS: [&str; 10] = [
    "cloudfront-viewer-country",
    "cloudfront-viewer-country-name",
    "cloudfront-viewer-country-region",
    "cloudfront-viewer-country-region-name",
    "cloudfront-viewer-city",
    "cloudfront-viewer-postal-code",
    "cloudfront-viewer-time-zone",
    "cloudfront-viewer-latitude",
    "cloudfront-viewer-longitude",
    "cloudfront-viewer-metro-code",
];

/// The location headers `behavior`'s policies name (in the key or forwarded).
pub fn wanted_headers(behavior: &Behavior) -> Vec<&'static str> {
    let in_key = |n: &str| matches!(&behavior.cache.headers, NameRule::Only(names) if names.iter().any(|h| h == n));
    let forwarded = |n: &str| match &behavior.origin_request.headers {
        HeaderForwarding::Only(names) | HeaderForwarding::AllViewerAndCloudFront(names) => names.iter().any(|h| h == n),
        _ => false,
    };
    LOCATION_HEADERS.into_iter().filter(|n| in_key(n) || forwarded(n)).collect()
}

/// The value of location header `name` for `at`, when the database knows it.
pub fn header_value(name: &str, at: &ViewerLocation) -> Option<String> {
    match name {
        "cloudfront-viewer-country" => at.country.clone(),
        "cloudfront-viewer-country-name" => at.country_name.clone(),
        "cloudfront-viewer-country-region" => at.region.clone(),
        "cloudfront-viewer-country-region-name" => at.region_name.clone(),
        "cloudfront-viewer-city" => at.city.clone(),
        "cloudfront-viewer-postal-code" => at.postal_code.clone(),
        "cloudfront-viewer-time-zone" => at.time_zone.clone(),
        "cloudfront-viewer-latitude" => at.latitude.map(|v| format!("{v:.5}")),
        "cloudfront-viewer-longitude" => at.longitude.map(|v| format!("{v:.5}")),
        "cloudfront-viewer-metro-code" => at.metro_code.map(|v| v.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_location() {
        let at = ViewerLocation { country: Some("DE".into()), latitude: Some(52.52), ..ViewerLocation::default() };
        assert_eq!(header_value("cloudfront-viewer-country", &at).as_deref(), Some("DE"));
        assert_eq!(header_value("cloudfront-viewer-latitude", &at).as_deref(), Some("52.52000"));
        assert_eq!(header_value("cloudfront-viewer-city", &at), None);
        assert_eq!(blocked().detailed, DetailedResultType::ClientGeoBlocked);
    }

    #[test]
    fn every_location_header_has_the_prefix() {
        assert!(LOCATION_HEADERS.iter().all(|name| name.starts_with(LOCATION_PREFIX)));
    }
}
