//! `[grpc]`: protobuf descriptor sets that give gRPC field paths their
//! real names. Each method of each service they describe maps to its
//! request and response message types; the protobuf walk then names the
//! fields it knows (`/leak.v1.Accounts/GetAccount $.owner.identity.ssn`)
//! and numbers the rest, as without a schema.
//!
//! Loaded once at start-up (and by `check-config`); a missing or invalid
//! file is an error naming it, never a silent fallback to numbers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost_reflect::{DescriptorPool, MessageDescriptor};

pub mod config;

pub use config::GrpcConfig;

/// Why a descriptor set could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read descriptor set {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a usable protobuf descriptor set ({message}); \
         write one with `protoc --include_imports --descriptor_set_out=FILE`"
    )]
    Invalid { path: PathBuf, message: String },
}

/// The request and response message types of every known gRPC method,
/// by path (`/pkg.Service/Method`).
#[derive(Default, Clone)]
pub struct GrpcSchema {
    methods: HashMap<String, (MessageDescriptor, MessageDescriptor)>,
}

impl std::fmt::Debug for GrpcSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcSchema")
            .field("methods", &self.methods.len())
            .finish()
    }
}

impl GrpcSchema {
    /// Every descriptor set of `config`, in one pool (a later set may
    /// import what an earlier one defines).
    pub fn load(config: &GrpcConfig) -> Result<Self, SchemaError> {
        let mut pool = DescriptorPool::new();
        for path in &config.descriptor_sets {
            add_file(&mut pool, path)?;
        }
        Ok(Self::from_pool(&pool))
    }

    pub fn from_pool(pool: &DescriptorPool) -> Self {
        let mut methods = HashMap::new();
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                methods.insert(path, (method.input(), method.output()));
            }
        }
        Self { methods }
    }

    /// Methods known.
    pub fn len(&self) -> usize {
        self.methods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
    }

    /// The type of `method`'s request (or response) messages, if known.
    pub fn message_type(&self, method: &str, response: bool) -> Option<&MessageDescriptor> {
        self.methods
            .get(method)
            .map(|(input, output)| if response { output } else { input })
    }
}

fn add_file(pool: &mut DescriptorPool, path: &Path) -> Result<(), SchemaError> {
    let bytes = std::fs::read(path).map_err(|source| SchemaError::Read {
        path: path.to_owned(),
        source,
    })?;
    pool.decode_file_descriptor_set(bytes.as_slice())
        .map_err(|err| SchemaError::Invalid {
            path: path.to_owned(),
            message: err.to_string(),
        })
}

/// A schema built in code for tests: service `leak.v1.Accounts` with
/// `GetAccount(GetAccountRequest) returns (Account)`, where
/// `Account { id = 1; Customer owner = 2 }`,
/// `Customer { name = 1; int32 birth_year = 2; Identity identity = 3; bytes blob = 5 }`
/// (field 4 undeclared) and `Identity { ssn = 1 }`.
#[cfg(test)]
pub(crate) fn test_pool() -> DescriptorPool {
    use prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
    use prost_reflect::prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        MethodDescriptorProto, ServiceDescriptorProto,
    };
    let field = |name: &str, number: i32, ty: Type, type_name: Option<&str>| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(Label::Optional as i32),
        r#type: Some(ty as i32),
        type_name: type_name.map(Into::into),
        ..Default::default()
    };
    let message = |name: &str, fields: Vec<FieldDescriptorProto>| DescriptorProto {
        name: Some(name.into()),
        field: fields,
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("leak.proto".into()),
        package: Some("leak.v1".into()),
        syntax: Some("proto3".into()),
        message_type: vec![
            message("Identity", vec![field("ssn", 1, Type::String, None)]),
            message(
                "Customer",
                vec![
                    field("name", 1, Type::String, None),
                    field("birth_year", 2, Type::Int32, None),
                    field("identity", 3, Type::Message, Some(".leak.v1.Identity")),
                    field("blob", 5, Type::Bytes, None),
                ],
            ),
            message(
                "Account",
                vec![
                    field("id", 1, Type::String, None),
                    field("owner", 2, Type::Message, Some(".leak.v1.Customer")),
                ],
            ),
            message(
                "GetAccountRequest",
                vec![field("id", 1, Type::String, None)],
            ),
        ],
        service: vec![ServiceDescriptorProto {
            name: Some("Accounts".into()),
            method: vec![MethodDescriptorProto {
                name: Some("GetAccount".into()),
                input_type: Some(".leak.v1.GetAccountRequest".into()),
                output_type: Some(".leak.v1.Account".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] })
        .expect("the test schema is valid")
}

#[cfg(test)]
mod tests {
    use prost_reflect::prost::Message;
    use prost_reflect::prost_types::FileDescriptorSet;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sensor-grpc-schema-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn methods_map_to_their_message_types() {
        let schema = GrpcSchema::from_pool(&test_pool());
        assert_eq!(schema.len(), 1);
        let m = "/leak.v1.Accounts/GetAccount";
        assert_eq!(
            schema.message_type(m, false).map(|d| d.full_name()),
            Some("leak.v1.GetAccountRequest")
        );
        assert_eq!(
            schema.message_type(m, true).map(|d| d.full_name()),
            Some("leak.v1.Account")
        );
        assert!(schema
            .message_type("/leak.v1.Accounts/Other", true)
            .is_none());
        assert!(schema.message_type("/other.Svc/GetAccount", true).is_none());
    }

    #[test]
    fn descriptor_set_files_load_and_bad_ones_are_named() {
        let dir = temp_dir("load");
        let good = dir.join("leak.pb");
        let set = FileDescriptorSet {
            file: test_pool().file_descriptor_protos().cloned().collect(),
        };
        std::fs::write(&good, set.encode_to_vec()).unwrap();
        let config = GrpcConfig {
            descriptor_sets: vec![good.clone()],
        };
        config.validate().unwrap();
        assert_eq!(GrpcSchema::load(&config).unwrap().len(), 1);
        // The same set twice is fine (a file both sets import).
        let twice = GrpcConfig {
            descriptor_sets: vec![good.clone(), good.clone()],
        };
        assert_eq!(GrpcSchema::load(&twice).unwrap().len(), 1);

        let missing = GrpcConfig {
            descriptor_sets: vec![dir.join("absent.pb")],
        };
        let err = missing.validate().unwrap_err();
        assert_eq!(err.key, "grpc.descriptor_sets");
        assert!(err.message.contains("absent.pb"), "{}", err.message);

        // A .proto source is not a descriptor set.
        let source = dir.join("leak.proto");
        std::fs::write(
            &source,
            "syntax = \"proto3\";\nmessage A { string b = 1; }\n",
        )
        .unwrap();
        let err = GrpcConfig {
            descriptor_sets: vec![source],
        }
        .validate()
        .unwrap_err();
        assert!(err.message.contains("leak.proto"), "{}", err.message);
        assert!(err.message.contains("--include_imports"), "{}", err.message);

        // A set without the files it imports (no --include_imports).
        let mut file = set.file[0].clone();
        file.name = Some("user.proto".into());
        file.package = Some("user.v1".into());
        file.dependency = vec!["google/protobuf/timestamp.proto".into()];
        let partial = dir.join("partial.pb");
        std::fs::write(
            &partial,
            FileDescriptorSet { file: vec![file] }.encode_to_vec(),
        )
        .unwrap();
        let err = GrpcConfig {
            descriptor_sets: vec![partial],
        }
        .validate()
        .unwrap_err();
        assert!(err.message.contains("partial.pb"), "{}", err.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
