//! CloudFront Functions runtime: event model, JavaScript engine, limits, helpers.
