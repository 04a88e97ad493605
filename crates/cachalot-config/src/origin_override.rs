//! Per-request origin changes (§9.4): what a viewer-request CloudFront Function asked
//! for with `cf.updateRequestOrigin()`, `cf.selectRequestOriginById()` and
//! `cf.createRequestOriginGroup()`, as data. The functions runtime fills it in;
//! `cachalot_policy::origin` applies it to the distribution's origins.
//!
//! Field names follow AWS's documentation examples (camelCase, as in JavaScript).

use serde::{Deserialize, Serialize};

/// Every origin change one invocation asked for (serialized as is between the tiers of a fleet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginOverride {
    /// `selectRequestOriginById(id)`: an origin of the distribution to use instead.
    pub selected_origin_id: Option<String>,
    /// `updateRequestOrigin({...})`: settings to change on the request's origin.
    pub update: Option<OriginUpdate>,
    /// `createRequestOriginGroup({...})`: a failover group to use for this request.
    pub origin_group: Option<RequestOriginGroup>,
}

impl OriginOverride {
    /// True when no helper was called.
    pub fn is_empty(&self) -> bool {
        self.selected_origin_id.is_none() && self.update.is_none() && self.origin_group.is_none()
    }
}

/// Settings `updateRequestOrigin` may change; `None` keeps the origin's own setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginUpdate {
    /// Host to connect to.
    pub domain_name: Option<String>,
    /// Path prefix added to the request path.
    pub origin_path: Option<String>,
    /// Custom headers sent to the origin; `Some(empty)` removes the configured ones.
    pub custom_headers: Option<std::collections::BTreeMap<String, String>>,
    /// Connection attempts, 1–3.
    pub connection_attempts: Option<u8>,
    /// Origin Shield settings.
    pub origin_shield: Option<OriginShieldUpdate>,
    /// Origin access control (request signing) settings.
    pub origin_access_control_config: Option<OriginAccessControlUpdate>,
    /// Timeouts in seconds.
    pub timeouts: Option<OriginTimeouts>,
    /// Port, protocol and TLS versions of a custom origin.
    pub custom_origin_config: Option<CustomOriginUpdate>,
    /// `Host` header to send to the origin.
    pub host_header: Option<String>,
    /// TLS server name to send to the origin.
    pub sni: Option<String>,
}

/// Origin Shield part of [`OriginUpdate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginShieldUpdate {
    /// Whether requests go through Origin Shield.
    pub enabled: bool,
    /// Origin Shield region.
    pub region: Option<String>,
}

/// Origin access control part of [`OriginUpdate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginAccessControlUpdate {
    /// Whether requests are signed.
    pub enabled: bool,
    /// `always`, `never` or `no-override`.
    pub signing_behavior: Option<String>,
    /// `sigv4`.
    pub signing_protocol: Option<String>,
    /// `s3`, `mediastore`, `mediapackagev2` or `lambda`.
    pub origin_type: Option<String>,
}

/// Timeouts part of [`OriginUpdate`], in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginTimeouts {
    /// Response (read) timeout, 1–60.
    pub read_timeout: Option<u32>,
    /// Keep-alive timeout, 1–60.
    pub keep_alive_timeout: Option<u32>,
    /// Connection timeout, 1–10.
    pub connection_timeout: Option<u32>,
    /// Time allowed for the whole response.
    pub response_completion_timeout: Option<u32>,
}

/// Custom origin part of [`OriginUpdate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomOriginUpdate {
    /// Port to connect to.
    pub port: Option<u16>,
    /// `http` or `https`.
    pub protocol: Option<String>,
    /// TLS versions offered (`TLSv1.2`…).
    pub ssl_protocols: Option<Vec<String>>,
}

/// `createRequestOriginGroup` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOriginGroup {
    /// Origin ids, primary first.
    pub origin_ids: Vec<String>,
    /// Origin statuses that make the request fail over to the next origin.
    pub failover_status_codes: Vec<u16>,
    /// `default` or `media-quality-score`.
    pub selection_criteria: Option<String>,
}
