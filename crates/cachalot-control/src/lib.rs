//! The control plane: CloudFront REST-XML API, persistent store, publishing.
