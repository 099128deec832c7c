//! Reading the fleet's catalogue: every sensor's rows, merged per endpoint.
//! Only reads: a reader never creates or migrates tables.

use std::collections::BTreeMap;

use super::super::record::EndpointRecord;
use super::{connect, merge::merge, migrations, FleetError, StoreUrl};
use crate::endpoint::EndpointKey;

/// The fleet's catalogue.
#[derive(Debug, Default)]
pub struct FleetSnapshot {
    /// Endpoints forgotten at the cap, summed over the sensors.
    pub evicted: u64,
    /// Each endpoint once, sorted, with the sensor hosts that saw it.
    pub endpoints: Vec<(EndpointKey, EndpointRecord, Vec<String>)>,
}

/// Connects to `url` and reads the merged catalogue.
pub fn read_merged(url: &StoreUrl) -> Result<FleetSnapshot, FleetError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(read(url))
}

async fn read(url: &StoreUrl) -> Result<FleetSnapshot, FleetError> {
    let client = connect(url).await?;
    match migrations::current(&client).await? {
        0 => return Err(FleetError::Empty),
        found if found > migrations::latest() => {
            return Err(FleetError::SchemaTooNew {
                found,
                known: migrations::latest(),
            })
        }
        _ => {}
    }
    let evicted: i64 = client
        .query_one(
            "SELECT coalesce(sum(evicted), 0)::int8 FROM sensor_inventory_sensors",
            &[],
        )
        .await?
        .get(0);
    let rows = client
        .query(
            "SELECT host, method, template, sensor_host, record::text
             FROM sensor_inventory_endpoints",
            &[],
        )
        .await?;
    let mut merged: BTreeMap<EndpointKey, (EndpointRecord, Vec<String>)> = BTreeMap::new();
    for row in rows {
        let key = EndpointKey {
            host: row.get(0),
            method: row.get(1),
            template: row.get(2),
        };
        let sensor: String = row.get(3);
        let record: EndpointRecord = serde_json::from_str(row.get(4))?;
        match merged.get_mut(&key) {
            Some((have, sensors)) => {
                merge(have, &record);
                sensors.push(sensor);
            }
            None => {
                merged.insert(key, (record, vec![sensor]));
            }
        }
    }
    Ok(FleetSnapshot {
        evicted: u64::try_from(evicted).unwrap_or(0),
        endpoints: merged
            .into_iter()
            .map(|(key, (record, mut sensors))| {
                sensors.sort();
                (key, record, sensors)
            })
            .collect(),
    })
}
