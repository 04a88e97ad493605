//! Request ids (`X-Amz-Cf-Id`) and edge host ids (`Via`).

use base64::Engine as _;

/// A 56-character URL-safe base64 id ending in `==`, like CloudFront's `X-Amz-Cf-Id`.
pub(crate) fn request_id() -> String {
    let mut bytes = [0u8; 40];
    for chunk in bytes.chunks_mut(8) {
        let r = fastrand::u64(..).to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// 32 lower-case hex characters naming this edge host for a POP (stable per POP id).
pub(crate) fn edge_host_id(pop_id: &str) -> String {
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
    for b in pop_id.bytes() {
        h1 = (h1 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        h2 = (h2 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(7);
    }
    format!("{h1:016x}{h2:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let id = super::request_id();
        assert_eq!(id.len(), 56);
        assert!(id.ends_with("=="));
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='));
        let host = super::edge_host_id("LHR50-C1");
        assert_eq!(host.len(), 32);
        assert_eq!(host, super::edge_host_id("LHR50-C1"));
    }
}
