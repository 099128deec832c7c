//! The fleet inventory's tables, created and upgraded by the sensors
//! themselves: numbered migrations, each applied once and recorded in
//! `sensor_inventory_migrations`. Sensors that start together take turns
//! through a transaction-scoped advisory lock, so the second finds the
//! work done; a database migrated by a newer sensor is refused, never
//! written with an older idea of its tables.

use tokio_postgres::Client;

use super::FleetError;

/// The advisory lock the migrations are applied under (any constant both
/// sides agree on: "sensorinv" in ASCII).
const LOCK_KEY: i64 = 0x73_65_6e_73_6f_72_69_6e;

/// (version, what it does, SQL). Append only: a released migration never
/// changes, a change is a new one.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "endpoint records per sensor, and each sensor's evicted count",
    "CREATE TABLE sensor_inventory_endpoints (
         sensor_host text NOT NULL,
         host text NOT NULL,
         method text NOT NULL,
         template text NOT NULL,
         first_seen_unix_ns bigint NOT NULL,
         last_seen_unix_ns bigint NOT NULL,
         requests bigint NOT NULL,
         record jsonb NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (host, method, template, sensor_host)
     );
     CREATE INDEX sensor_inventory_endpoints_by_sensor
         ON sensor_inventory_endpoints (sensor_host);
     CREATE TABLE sensor_inventory_sensors (
         sensor_host text PRIMARY KEY,
         sensor_version text NOT NULL,
         evicted bigint NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now()
     );",
)];

/// The newest version this sensor knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Brings the database to `latest()`; returns the migrations applied now.
pub async fn apply(client: &mut Client) -> Result<Vec<i32>, FleetError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sensor_inventory_migrations (
             version integer PRIMARY KEY,
             description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM sensor_inventory_migrations",
            &[],
        )
        .await?
        .get(0);
    if current > latest() {
        return Err(FleetError::SchemaTooNew {
            found: current,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO sensor_inventory_migrations (version, description) VALUES ($1, $2)",
            &[version, description],
        )
        .await?;
        applied.push(*version);
    }
    tx.commit().await?;
    Ok(applied)
}

/// The database's version, for readers (which never migrate): 0 when no
/// sensor has created the tables yet.
pub async fn current(client: &Client) -> Result<i32, FleetError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('sensor_inventory_migrations') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM sensor_inventory_migrations",
            &[],
        )
        .await?
        .get(0))
}
