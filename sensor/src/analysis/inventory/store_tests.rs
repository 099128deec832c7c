//! The catalogue file: round trip, mode, atomic replacement, a write that
//! dies half-way, and files that cannot be used.

use std::os::unix::fs::PermissionsExt as _;

use super::tests::{at, inventory, request, temp_dir};
use super::*;
use crate::analysis::detect::tests::{detector, exchange};
use crate::analysis::detect::DetectConfig;

fn populated(dir: &Path) -> Inventory {
    let mut inv = inventory(&InventoryConfig::default(), dir);
    let detect = detector(&DetectConfig::default());
    let x = exchange(
        "GET",
        "/customers/ann%40acme-mail.io/orders/4711?api_key=k-SECRET",
        &[("Host", "shop.acme.io"), ("Cookie", "sessionid=SECRET")],
        "",
        &[("Content-Type", "application/json")],
        r#"{"email":"ann@acme-mail.io","card":"4539 5787 6362 1486"}"#,
    );
    inv.observe(&x, &detect.inspect(&x), at(1));
    inv.observe(&request("POST", "shop.acme.io", "/carts", 201), &[], at(2));
    inv.observe(&request("GET", "shop.acme.io", "/healthz", 200), &[], at(3));
    inv
}

fn contents(inv: &Inventory) -> Vec<(EndpointKey, EndpointRecord)> {
    inv.endpoints()
        .into_iter()
        .map(|(k, r)| {
            let mut r = r.clone();
            // In-memory cache, deliberately not persisted.
            r.spec_lookup = None;
            (k.clone(), r)
        })
        .collect()
}

#[test]
fn round_trip_keeps_every_field_and_no_raw_value() {
    let dir = temp_dir("roundtrip");
    let mut inv = populated(&dir);
    inv.save();
    assert_eq!(inv.counters().saves, 1);

    let file = dir.join(FILE_NAME);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with(r#"{"format":"sensor-inventory","version":1,"#),
        "{text}"
    );
    assert!(text.contains("/customers/{email}/orders/{id}"), "{text}");
    for raw in ["ann", "4711", "SECRET", "4539", "1486"] {
        assert!(!text.contains(raw), "{raw} leaked into {text}");
    }

    let loaded = inventory(&InventoryConfig::default(), &dir);
    assert_eq!(contents(&loaded), contents(&inv));
    assert_eq!(loaded.counters().endpoints, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_write_killed_half_way_leaves_the_old_file() {
    let dir = temp_dir("atomic");
    let mut inv = populated(&dir);
    inv.save();
    let file = dir.join(FILE_NAME);
    let before = std::fs::read(&file).unwrap();
    // What a kill between write and rename leaves: a partial temp file.
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    std::fs::write(&tmp, &before[..before.len() / 2]).unwrap();

    let loaded = inventory(&InventoryConfig::default(), &dir);
    assert_eq!(contents(&loaded), contents(&inv));
    assert!(!tmp.exists(), "the stale temp file is cleaned up");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_save_is_counted_and_keeps_the_old_file() {
    let dir = temp_dir("savefail");
    let mut inv = populated(&dir);
    inv.save();
    let file = dir.join(FILE_NAME);
    let before = std::fs::read(&file).unwrap();
    // The temp path is taken by a directory: opening it for writing fails.
    std::fs::create_dir(dir.join(format!("{FILE_NAME}.tmp"))).unwrap();
    inv.observe(&request("GET", "shop.acme.io", "/new", 200), &[], at(4));
    let err = inv.save_if_due(at(4)).unwrap_err();
    assert!(err.to_string().contains(FILE_NAME), "{err}");
    inv.save();
    let counters = inv.counters();
    assert_eq!((counters.saves, counters.save_errors), (1, 2));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // Once the obstacle is gone the next save goes through.
    std::fs::remove_dir(dir.join(format!("{FILE_NAME}.tmp"))).unwrap();
    inv.save();
    assert_eq!(inv.counters().saves, 2);
    assert_eq!(
        inventory(&InventoryConfig::default(), &dir)
            .counters()
            .endpoints,
        4
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_file_is_set_aside_named_and_replaced() {
    let dir = temp_dir("corrupt");
    let file = dir.join(FILE_NAME);
    for (n, garbage) in [
        &b"{\"format\":\"sensor-inventory\",\"version\":1,\"endpoi"[..],
        b"\x00\x01not json",
        br#"{"format":"something-else","version":1}"#,
        br#"{"format":"sensor-inventory","version":1,"evicted":0,"endpoints":[{"host":1}]}"#,
        br#"{"format":"sensor-inventory","version":99,"evicted":0,"endpoints":[]}"#,
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(&file, garbage).unwrap();
        // The read-only command names the file and leaves it alone.
        let mut out = Vec::new();
        let err = print(&dir, InventoryFormat::Table, &mut out).unwrap_err();
        assert!(err.to_string().contains(&*file.to_string_lossy()), "{err}");
        assert_eq!(std::fs::read(&file).unwrap(), *garbage);

        // The sensor moves it aside and starts empty.
        let mut inv = inventory(&InventoryConfig::default(), &dir);
        assert_eq!(inv.counters().endpoints, 0);
        assert_eq!(inv.counters().files_set_aside, 1);
        let aside = if n == 0 {
            dir.join(format!("{FILE_NAME}.corrupt"))
        } else {
            dir.join(format!("{FILE_NAME}.corrupt.{n}"))
        };
        assert_eq!(std::fs::read(&aside).unwrap(), *garbage, "copy {n}");
        assert!(!file.exists());

        inv.observe(&request("GET", "api", "/a", 200), &[], at(1));
        inv.save();
        assert_eq!(
            inventory(&InventoryConfig::default(), &dir)
                .counters()
                .endpoints,
            1
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_file_is_an_error_not_a_reset() {
    let dir = temp_dir("unreadable");
    // A directory where the file should be: reading it fails with EISDIR.
    std::fs::create_dir(dir.join(FILE_NAME)).unwrap();
    let err = Inventory::load_or_new(
        &InventoryConfig::default(),
        &dir,
        super::tests::fingerprint_key(),
    )
    .unwrap_err();
    assert!(err.to_string().contains(FILE_NAME), "{err}");
    assert!(dir.join(FILE_NAME).is_dir());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_state_directory_is_created_on_save() {
    let dir = temp_dir("missingdir");
    let state = dir.join("var/lib/sensor");
    let mut inv = inventory(&InventoryConfig::default(), &state);
    inv.observe(&request("GET", "api", "/a", 200), &[], at(1));
    inv.save();
    assert!(state.join(FILE_NAME).is_file());
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    std::fs::remove_dir_all(&dir).unwrap();
}
