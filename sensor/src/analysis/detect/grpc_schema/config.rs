//! `[grpc]`: the descriptor sets gRPC field names come from.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::InvalidKey;

use super::GrpcSchema;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// Binary `FileDescriptorSet` files, as `protoc --include_imports
    /// --descriptor_set_out=FILE` (or `buf build -o FILE`) writes them.
    /// The methods of the services they describe get named field paths.
    /// Empty: field numbers only.
    pub descriptor_sets: Vec<PathBuf>,
}

impl GrpcConfig {
    /// Reads and checks every descriptor set, as `check-config` reports.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        GrpcSchema::load(self)
            .map(|_| ())
            .map_err(|err| InvalidKey::new("grpc.descriptor_sets", err.to_string()))
    }
}
