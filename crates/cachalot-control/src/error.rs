//! API errors: CloudFront's code, HTTP status and message.
//!
//! **API boundary.** Rendered as CloudFront's XML error document
//! (`<ErrorResponse><Error><Type>Sender</Type><Code>…`), or as the rest-json
//! shape of the key value store data API. Statuses come from the service
//! model's error shapes, so a code always travels with the status the AWS SDKs
//! expect for it.

use crate::xml::{NAMESPACE, schema::Schema};
use std::fmt;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// CloudFront error code, e.g. `NoSuchCachePolicy`.
    pub code: String,
    /// HTTP status.
    pub status: u16,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error whose status is the one the service model gives `code` (400 when unmodelled).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        let status = Schema::cloudfront().error_status(code).unwrap_or_else(|| unmodelled_status(code));
        Self { code: code.to_owned(), status, message: message.into() }
    }

    /// An error with an explicit status.
    pub fn with_status(code: &str, status: u16, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), status, message: message.into() }
    }

    /// `MalformedInput` (400): a body that is not the document the operation takes.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::with_status("MalformedInput", 400, message)
    }

    /// `InvalidArgument` (400).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidArgument", message)
    }

    /// `InternalError` (500): a failure of Cachalot itself (e.g. the store).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::with_status("InternalError", 500, message)
    }

    /// `ServiceUnavailable` (503): the fleet store cannot be reached; nothing was changed.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::with_status("ServiceUnavailable", 503, message)
    }

    /// Renders CloudFront's XML error document.
    pub fn to_xml(&self, request_id: &str) -> String {
        let kind = if self.status >= 500 { "Receiver" } else { "Sender" };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{kind}</Type>\
             <Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            quick_xml::escape::escape(self.code.as_str()),
            quick_xml::escape::escape(self.message.as_str()),
            quick_xml::escape::escape(request_id),
        )
    }
}

/// Statuses of codes CloudFront documents but the model does not declare.
fn unmodelled_status(code: &str) -> u16 {
    match code {
        "SignatureDoesNotMatch" | "InvalidClientTokenId" | "MissingAuthenticationToken" => 403,
        "UnknownOperation" => 404,
        "MethodNotAllowed" => 405,
        "InternalError" | "ServiceUnavailable" => 500,
        _ => 400,
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_come_from_the_model() {
        assert_eq!(ApiError::new("NoSuchCachePolicy", "x").status, 404);
        assert_eq!(ApiError::new("PreconditionFailed", "x").status, 412);
        assert_eq!(ApiError::new("DistributionNotDisabled", "x").status, 409);
        assert_eq!(ApiError::new("BatchTooLarge", "x").status, 413);
        assert_eq!(ApiError::new("InvalidIfMatchVersion", "x").status, 400);
        assert_eq!(ApiError::new("SignatureDoesNotMatch", "x").status, 403);
    }

    #[test]
    fn xml_document_escapes_the_message() {
        let xml = ApiError::new("InvalidArgument", "a <b> & c").to_xml("req-1");
        assert!(xml.contains("<Code>InvalidArgument</Code><Message>a &lt;b&gt; &amp; c</Message>"), "{xml}");
        assert!(xml.contains("<Type>Sender</Type>") && xml.contains("<RequestId>req-1</RequestId>"));
    }
}
