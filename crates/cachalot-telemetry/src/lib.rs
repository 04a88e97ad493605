//! Standard access logs (writer and parser) and metric names.
