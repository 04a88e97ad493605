//! Which origin a miss goes to (§12.3, §9.4): the behavior's origin or origin group,
//! with a viewer-request function's origin changes applied — resolved once per
//! request, before the tiers are chosen (an overridden Origin Shield changes them) —
//! and when a failed attempt fails over to the group's secondary.

use cachalot_config::model::{Behavior, Distribution, Origin, OriginKind, OriginProtocolPolicy, Target};
use cachalot_config::origin_override::{OriginOverride, OriginUpdate};
use http::Method;
use std::sync::Arc;

/// Where a miss goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPlan {
    /// The origin asked first.
    pub primary: Arc<Origin>,
    /// The origin asked when the primary fails over (origin groups).
    pub secondary: Option<Arc<Origin>>,
    /// Primary statuses that fail over to the secondary.
    pub failover_statuses: Vec<u16>,
    /// `Host` header to send instead of the origin's (a function's `hostHeader`).
    pub host_header: Option<String>,
    /// TLS server name to send instead of the origin's domain (a function's `sni`).
    pub sni: Option<String>,
}

impl OriginPlan {
    /// Whether a primary answer with `status` to a `method` request fails over (§12.3):
    /// only GET, HEAD and OPTIONS fail over, on the group's listed statuses.
    pub fn fails_over_on_status(&self, method: &Method, status: u16) -> bool {
        self.secondary.is_some() && failover_method(method) && self.failover_statuses.contains(&status)
    }

    /// Whether a primary that could not answer (connection failure, timeout) fails over.
    pub fn fails_over_on_error(&self, method: &Method) -> bool {
        self.secondary.is_some() && failover_method(method)
    }
}

fn failover_method(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS
}

/// The behavior's origin (or group), with `change` applied.
pub fn resolve(dist: &Distribution, behavior: &Behavior, change: Option<&OriginOverride>) -> OriginPlan {
    let mut plan = match behavior.target {
        Target::Origin(i) => plain(dist.origins[i].clone()),
        Target::Group(g) => group_plan(dist, g),
    };
    let Some(change) = change else { return plan };
    let by_id = |id: &str| dist.origins.iter().find(|o| o.id == id).cloned();
    if let Some(id) = &change.selected_origin_id {
        if let Some(o) = by_id(id) {
            plan = plain(o);
        } else if let Some(g) = dist.origin_groups.iter().position(|g| g.id == *id) {
            plan = group_plan(dist, g);
        }
    }
    if let Some(group) = &change.origin_group {
        let members: Vec<Arc<Origin>> = group.origin_ids.iter().filter_map(|id| by_id(id)).collect();
        if let [first, second, ..] = &members[..] {
            plan.primary = first.clone();
            plan.secondary = Some(second.clone());
            plan.failover_statuses = group.failover_status_codes.clone();
        }
    }
    if let Some(update) = &change.update {
        plan.primary = Arc::new(updated(&plan.primary, update));
        plan.host_header = update.host_header.clone();
        plan.sni = update.sni.clone();
    }
    plan
}

fn plain(origin: Arc<Origin>) -> OriginPlan {
    OriginPlan { primary: origin, secondary: None, failover_statuses: Vec::new(), host_header: None, sni: None }
}

fn group_plan(dist: &Distribution, g: usize) -> OriginPlan {
    let group = &dist.origin_groups[g];
    OriginPlan {
        primary: dist.origins[group.primary].clone(),
        secondary: Some(dist.origins[group.secondary].clone()),
        failover_statuses: group.failover_statuses.clone(),
        host_header: None,
        sni: None,
    }
}

/// `origin` with the settings `update` names changed.
fn updated(origin: &Origin, update: &OriginUpdate) -> Origin {
    let mut o = origin.clone();
    if let Some(domain) = &update.domain_name {
        o.domain_name = domain.clone();
        o.kind = match cachalot_config::validate::s3_bucket_of(domain) {
            Some(bucket) => OriginKind::S3 { bucket: bucket.to_owned() },
            None => match o.kind {
                OriginKind::Custom { .. } => o.kind,
                OriginKind::S3 { .. } => {
                    OriginKind::Custom { http_port: 80, https_port: 443, protocol: OriginProtocolPolicy::HttpsOnly }
                }
            },
        };
    }
    if let Some(path) = &update.origin_path {
        o.origin_path = path.trim_end_matches('/').to_owned();
    }
    if let Some(headers) = &update.custom_headers {
        o.custom_headers = headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    if let Some(n) = update.connection_attempts {
        o.connection_attempts = u32::from(n).clamp(1, 3);
    }
    if let Some(t) = &update.timeouts {
        o.read_timeout_secs = t.read_timeout.unwrap_or(o.read_timeout_secs);
        o.keepalive_timeout_secs = t.keep_alive_timeout.unwrap_or(o.keepalive_timeout_secs);
        o.connection_timeout_secs = t.connection_timeout.unwrap_or(o.connection_timeout_secs);
        if t.response_completion_timeout.is_some() {
            o.response_completion_timeout_secs = t.response_completion_timeout;
        }
    }
    if let Some(shield) = &update.origin_shield {
        o.shield_region = if shield.enabled { shield.region.clone().or(o.shield_region) } else { None };
    }
    if let (Some(c), OriginKind::Custom { http_port, https_port, protocol }) =
        (&update.custom_origin_config, &mut o.kind)
    {
        if let Some(port) = c.port {
            *http_port = port;
            *https_port = port;
        }
        match c.protocol.as_deref() {
            Some("http") => *protocol = OriginProtocolPolicy::HttpOnly,
            Some("https") => *protocol = OriginProtocolPolicy::HttpsOnly,
            _ => {}
        }
    }
    o
}
