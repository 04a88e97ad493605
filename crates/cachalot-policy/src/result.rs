//! Result types: CloudFront's own vocabulary for what happened to a request.
//!
//! **API boundary.** The strings are those of the standard access log
//! (`x-edge-result-type`, `x-edge-response-result-type`,
//! `x-edge-detailed-result-type`) and of the `x-cache` header, so logs written by
//! Cachalot and by CloudFront read the same and the doctor parses both.

use crate::tiers::Layer;
use std::fmt;
use std::str::FromStr;

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The log spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)*
                }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $(stringify!($variant) => Ok($name::$variant),)*
                    _ => Err(()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// `x-edge-result-type` / `x-edge-response-result-type`, and the `x-cache` word.
    ResultType {
        /// Served from this POP's cache (or a collapsed request).
        Hit,
        /// An expired object revalidated with a 304.
        RefreshHit,
        /// Fetched from the next tier or the origin.
        Miss,
        /// Refused for exceeding a quota.
        LimitExceeded,
        /// 503 for lack of capacity.
        CapacityExceeded,
        /// An error (4xx/5xx), or the viewer went away.
        Error,
        /// HTTP redirected to HTTPS by the distribution.
        Redirect,
        /// A viewer-request function answered.
        FunctionGeneratedResponse,
        /// A function threw.
        FunctionExecutionError,
        /// A function exceeded its time budget.
        FunctionThrottledError,
        /// A function returned an invalid object.
        FunctionValidationError,
        /// Lambda@Edge validation error (parsed from real logs only).
        LambdaValidationError,
        /// Lambda@Edge execution error (parsed from real logs only).
        LambdaExecutionError,
        /// Lambda@Edge limit (parsed from real logs only).
        LambdaLimitExceeded,
        /// Lambda@Edge generated response (parsed from real logs only).
        LambdaGeneratedResponse,
    }
}

/// Calls `$callback! { PREFIX { VARIANTS } }` with every `x-edge-detailed-result-type`
/// spelling (each with its documentation): the one list of CloudFront's result spellings.
/// Policy declares [`DetailedResultType`] from it; the log record's result type
/// (`cachalot-telemetry`) names its known values from it.
#[macro_export]
macro_rules! for_detailed_result_types {
    ($callback:ident, $($prefix:tt)*) => {
        $callback! { $($prefix)* {
            /// See [`ResultType::Hit`].
            Hit,
            /// See [`ResultType::RefreshHit`].
            RefreshHit,
            /// See [`ResultType::Miss`].
            Miss,
            /// A hit in the Origin Shield cache.
            OriginShieldHit,
            /// See [`ResultType::Redirect`].
            Redirect,
            /// See [`ResultType::LimitExceeded`].
            LimitExceeded,
            /// See [`ResultType::CapacityExceeded`].
            CapacityExceeded,
            /// See [`ResultType::FunctionGeneratedResponse`].
            FunctionGeneratedResponse,
            /// See [`ResultType::FunctionExecutionError`].
            FunctionExecutionError,
            /// See [`ResultType::FunctionThrottledError`].
            FunctionThrottledError,
            /// See [`ResultType::FunctionValidationError`].
            FunctionValidationError,
            /// See [`ResultType::LambdaValidationError`].
            LambdaValidationError,
            /// See [`ResultType::LambdaExecutionError`].
            LambdaExecutionError,
            /// See [`ResultType::LambdaLimitExceeded`].
            LambdaLimitExceeded,
            /// See [`ResultType::LambdaGeneratedResponse`].
            LambdaGeneratedResponse,
            /// The origin closed the connection mid-response.
            AbortedOrigin,
            /// The viewer connection failed while sending the response.
            ClientCommError,
            /// Geo restriction.
            ClientGeoBlocked,
            /// The viewer hung up before the response was sent.
            ClientHungUpRequest,
            /// A generic error, including a cached error served.
            Error,
            /// The request was malformed.
            InvalidRequest,
            /// Blocked request.
            InvalidRequestBlocked,
            /// Certificate problem.
            InvalidRequestCertificate,
            /// Header problem (size, syntax).
            InvalidRequestHeader,
            /// Method not allowed by the behavior.
            InvalidRequestMethod,
            /// Timeout talking to the origin.
            OriginCommError,
            /// Could not connect to the origin.
            OriginConnectError,
            /// Content-Range inconsistent with the body.
            OriginContentRangeLengthError,
            /// The origin's name did not resolve.
            OriginDnsError,
            /// The origin answered with an error status.
            OriginError,
            /// The origin's headers were too large.
            OriginHeaderTooBigError,
            /// The origin's response was not valid HTTP.
            OriginInvalidResponseError,
            /// Reading the origin's response failed.
            OriginReadError,
            /// Writing the request to the origin failed.
            OriginWriteError,
            /// The origin sent an empty object where one was required.
            OriginZeroSizeObjectError,
            /// The viewer read too slowly.
            SlowReaderOriginError,
        } }
    };
}

for_detailed_result_types!(
    vocabulary,
    /// `x-edge-detailed-result-type`: the result type, refined for errors and shield hits.
    /// Every spelling of the three result fields is one of its values.
    DetailedResultType
);

impl ResultType {
    /// The `x-cache` header value, e.g. `Hit from cloudfront`.
    pub fn x_cache(self) -> &'static str {
        match self {
            ResultType::Hit => "Hit from cloudfront",
            ResultType::RefreshHit => "RefreshHit from cloudfront",
            ResultType::Miss => "Miss from cloudfront",
            ResultType::LimitExceeded => "LimitExceeded from cloudfront",
            ResultType::CapacityExceeded => "CapacityExceeded from cloudfront",
            ResultType::Error => "Error from cloudfront",
            ResultType::Redirect => "Redirect from cloudfront",
            ResultType::FunctionGeneratedResponse => "FunctionGeneratedResponse from cloudfront",
            ResultType::FunctionExecutionError => "FunctionExecutionError from cloudfront",
            ResultType::FunctionThrottledError => "FunctionThrottledError from cloudfront",
            ResultType::FunctionValidationError => "FunctionValidationError from cloudfront",
            ResultType::LambdaValidationError => "LambdaValidationError from cloudfront",
            ResultType::LambdaExecutionError => "LambdaExecutionError from cloudfront",
            ResultType::LambdaLimitExceeded => "LambdaLimitExceeded from cloudfront",
            ResultType::LambdaGeneratedResponse => "LambdaGeneratedResponse from cloudfront",
        }
    }

    /// The detailed value spelled the same (every result type is also a detailed one).
    pub fn same_spelling(self) -> DetailedResultType {
        match self {
            ResultType::Hit => DetailedResultType::Hit,
            ResultType::RefreshHit => DetailedResultType::RefreshHit,
            ResultType::Miss => DetailedResultType::Miss,
            ResultType::LimitExceeded => DetailedResultType::LimitExceeded,
            ResultType::CapacityExceeded => DetailedResultType::CapacityExceeded,
            ResultType::Error => DetailedResultType::Error,
            ResultType::Redirect => DetailedResultType::Redirect,
            ResultType::FunctionGeneratedResponse => DetailedResultType::FunctionGeneratedResponse,
            ResultType::FunctionExecutionError => DetailedResultType::FunctionExecutionError,
            ResultType::FunctionThrottledError => DetailedResultType::FunctionThrottledError,
            ResultType::FunctionValidationError => DetailedResultType::FunctionValidationError,
            ResultType::LambdaValidationError => DetailedResultType::LambdaValidationError,
            ResultType::LambdaExecutionError => DetailedResultType::LambdaExecutionError,
            ResultType::LambdaLimitExceeded => DetailedResultType::LambdaLimitExceeded,
            ResultType::LambdaGeneratedResponse => DetailedResultType::LambdaGeneratedResponse,
        }
    }

    /// The detailed result type when nothing more specific is known.
    pub fn detailed(self) -> DetailedResultType {
        match self {
            ResultType::Hit => DetailedResultType::Hit,
            ResultType::RefreshHit => DetailedResultType::RefreshHit,
            ResultType::Miss => DetailedResultType::Miss,
            ResultType::LimitExceeded => DetailedResultType::LimitExceeded,
            ResultType::CapacityExceeded => DetailedResultType::CapacityExceeded,
            ResultType::Redirect => DetailedResultType::Redirect,
            ResultType::FunctionGeneratedResponse => DetailedResultType::FunctionGeneratedResponse,
            ResultType::FunctionExecutionError => DetailedResultType::FunctionExecutionError,
            ResultType::FunctionThrottledError => DetailedResultType::FunctionThrottledError,
            ResultType::FunctionValidationError => DetailedResultType::FunctionValidationError,
            _ => DetailedResultType::Error,
        }
    }
}

/// How the edge came by the response a viewer gets: the one fact `x-cache`, the
/// log's result types and `Server-Timing` are all derived from (§8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// A copy held by a cache tier: fresh, shared by a collapsed fetch, or expired but
    /// served while it revalidates or while the origin fails.
    Cached(Layer),
    /// An expired copy revalidated by the origin (`304`).
    Refreshed,
    /// Fetched from the origin, or passed through to it uncached.
    Origin,
    /// CloudFront answered itself: an error page, a redirect, a function's response
    /// or a function's failure.
    Generated(ResultType, DetailedResultType),
}

impl Served {
    /// The result types to send and log for a response with `status`, where
    /// `origin_status` is the status of the object or origin response behind it (a
    /// custom error page or a viewer-response function may have changed the status).
    pub fn classify(self, status: u16, origin_status: u16) -> (ResultType, DetailedResultType) {
        match self {
            Served::Generated(r, d) => (r, d),
            _ if status >= 400 || origin_status >= 400 => (ResultType::Error, DetailedResultType::Error),
            Served::Cached(Layer::Shield) => (ResultType::Hit, DetailedResultType::OriginShieldHit),
            Served::Cached(_) => (ResultType::Hit, DetailedResultType::Hit),
            Served::Refreshed => (ResultType::RefreshHit, DetailedResultType::RefreshHit),
            Served::Origin => (ResultType::Miss, DetailedResultType::Miss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for r in ResultType::ALL {
            assert_eq!(r.as_str().parse::<ResultType>(), Ok(*r));
            assert!(r.x_cache().starts_with(r.as_str()));
        }
        for d in DetailedResultType::ALL {
            assert_eq!(d.as_str().parse::<DetailedResultType>(), Ok(*d));
        }
        for r in ResultType::ALL {
            assert_eq!(r.same_spelling().as_str(), r.as_str());
        }
        assert_eq!(ResultType::Hit.x_cache(), "Hit from cloudfront");
    }

    #[test]
    fn served_classifies_as_cloudfront_logs() {
        assert_eq!(Served::Cached(Layer::Edge).classify(200, 200), (ResultType::Hit, DetailedResultType::Hit));
        assert_eq!(Served::Cached(Layer::Regional).classify(206, 200).0, ResultType::Hit);
        assert_eq!(Served::Cached(Layer::Shield).classify(200, 200).1, DetailedResultType::OriginShieldHit);
        assert_eq!(Served::Refreshed.classify(304, 200).0, ResultType::RefreshHit);
        assert_eq!(Served::Origin.classify(200, 200), (ResultType::Miss, DetailedResultType::Miss));
        assert_eq!(Served::Origin.classify(200, 404).0, ResultType::Error, "a custom error page for a 404");
        assert_eq!(Served::Cached(Layer::Edge).classify(404, 404).0, ResultType::Error);
        let redirect = Served::Generated(ResultType::Redirect, DetailedResultType::Redirect);
        assert_eq!(redirect.classify(301, 301).0, ResultType::Redirect);
    }
}
