//! The API server's pod list, reduced to what names a container: its id
//! (`status.containerStatuses[].containerID`, init and ephemeral containers
//! included) to pod, namespace and container name. Read straight from the
//! response stream, keeping at most `max_pods` pods; every other field is
//! skipped without being kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The pod a container belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodMeta {
    pub pod: String,
    pub namespace: String,
    pub container: String,
}

/// One listing: container ids (bare, lowercase) to their pods.
#[derive(Debug, Default)]
pub struct PodListing {
    pub containers: HashMap<String, PodMeta>,
    /// Pods indexed.
    pub pods: usize,
    /// Pods in the list past `max_pods`, left out.
    pub pods_over_cap: usize,
}

/// A container id as the index keys it: without the runtime's scheme
/// (`containerd://`, `cri-o://`, `docker://`) and in lowercase, as
/// `process::container_id` reads it from a cgroup path.
pub fn bare_container_id(id: &str) -> Cow<'_, str> {
    let id = id.split_once("://").map_or(id, |(_, id)| id);
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// Parses a `PodList` JSON document (`GET /api/v1/pods`).
pub fn read_pod_list(reader: impl Read, max_pods: usize) -> serde_json::Result<PodListing> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let (pods, pods_over_cap) = PodListSeed { max_pods }.deserialize(&mut de)?;
    de.end()?;
    let mut listing = PodListing {
        pods: pods.len(),
        pods_over_cap,
        ..PodListing::default()
    };
    for pod in pods {
        let statuses = [
            pod.status.container_statuses,
            pod.status.init_container_statuses,
            pod.status.ephemeral_container_statuses,
        ];
        for status in statuses.into_iter().flatten().flatten() {
            // A container not started yet has no id.
            let Some(id) = status.container_id.filter(|id| !id.is_empty()) else {
                continue;
            };
            listing.containers.insert(
                bare_container_id(&id).into_owned(),
                PodMeta {
                    pod: pod.metadata.name.clone(),
                    namespace: pod.metadata.namespace.clone(),
                    container: status.name,
                },
            );
        }
    }
    Ok(listing)
}

#[derive(Deserialize)]
struct Pod {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    status: Status,
}

#[derive(Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

/// Lists are `Option` because the API server may send `null` for them.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    container_statuses: Option<Vec<ContainerStatus>>,
    init_container_statuses: Option<Vec<ContainerStatus>>,
    ephemeral_container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    name: String,
    #[serde(rename = "containerID")]
    container_id: Option<String>,
}

/// The list object: only `items` is read, through `ItemsSeed`.
struct PodListSeed {
    max_pods: usize,
}

impl<'de> DeserializeSeed<'de> for PodListSeed {
    type Value = (Vec<Pod>, usize);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PodListSeed {
    type Value = (Vec<Pod>, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a PodList object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = Some(map.next_value_seed(ItemsSeed {
                    max_pods: self.max_pods,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        items.ok_or_else(|| serde::de::Error::missing_field("items"))
    }
}

/// The `items` array: the first `max_pods` pods are kept, the rest are
/// skipped and counted, so a huge list costs parsing time, not memory.
struct ItemsSeed {
    max_pods: usize,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = (Vec<Pod>, usize);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        // `any`, not `seq`: the API server may send `null`.
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = (Vec<Pod>, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of pods")
    }

    /// `null` items is an empty list, as the API server means it.
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok((Vec::new(), 0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut pods = Vec::new();
        let mut over_cap = 0;
        while pods.len() < self.max_pods {
            match seq.next_element::<Pod>()? {
                Some(pod) => pods.push(pod),
                None => return Ok((pods, 0)),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            over_cap += 1;
        }
        Ok((pods, over_cap))
    }
}
