//! The viewer-location database: a MaxMind-format file (`GeoIpDatabase` in the node
//! config, e.g. GeoLite2-Country or GeoLite2-City) read once at start with the
//! `maxminddb` crate, answering where a viewer's address is.

use cachalot_policy::geo::ViewerLocation;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// An open location database.
pub struct GeoDatabase {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDatabase").field("type", &self.reader.metadata().database_type).finish()
    }
}

#[derive(Deserialize, Default)]
struct Named {
    iso_code: Option<String>,
    #[serde(default)]
    names: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
    time_zone: Option<String>,
    metro_code: Option<u16>,
}

#[derive(Deserialize, Default)]
struct Postal {
    code: Option<String>,
}

#[derive(Deserialize, Default)]
struct Record {
    country: Option<Named>,
    city: Option<Named>,
    #[serde(default)]
    subdivisions: Vec<Named>,
    location: Option<Location>,
    postal: Option<Postal>,
}

impl GeoDatabase {
    /// Reads the database at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A database from its bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        let reader =
            maxminddb::Reader::from_source(bytes).map_err(|e| format!("not a MaxMind-format database ({e})"))?;
        Ok(GeoDatabase { reader })
    }

    /// Where `ip` is; `None` when the database has no record for it.
    pub fn locate(&self, ip: IpAddr) -> Option<ViewerLocation> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let record: Record = self.reader.lookup(ip).ok()?.decode().ok()??;
        let english = |n: &Named| n.names.get("en").cloned();
        let region = record.subdivisions.first();
        Some(ViewerLocation {
            country: record.country.as_ref().and_then(|c| c.iso_code.clone()),
            country_name: record.country.as_ref().and_then(english),
            region: region.and_then(|r| r.iso_code.clone()),
            region_name: region.and_then(english),
            city: record.city.as_ref().and_then(english),
            postal_code: record.postal.and_then(|p| p.code),
            time_zone: record.location.as_ref().and_then(|l| l.time_zone.clone()),
            latitude: record.location.as_ref().and_then(|l| l.latitude),
            longitude: record.location.as_ref().and_then(|l| l.longitude),
            metro_code: record.location.as_ref().and_then(|l| l.metro_code),
        })
    }
}
