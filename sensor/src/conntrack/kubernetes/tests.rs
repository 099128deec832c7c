use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::fake_api_server::{FakeApiServer, TestCa};
use super::pods::{bare_container_id, read_pod_list};
use super::*;

/// A PodList as the API server returns it for one node: a Deployment's
/// pod with an init container and a restarted container, CoreDNS, a pod
/// with a `kubectl debug` ephemeral container, and a pending Job pod.
const PODS: &str = include_str!("testdata/pods.json");
const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlbnNvci10ZXN0In0.c2Vuc29y.c2lnbmF0dXJl";

const WEB: &str = "4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2";
const EXPORTER: &str = "29b220d49cd6a1ed8396172f46fce4211ca0fa0d9926dee6710a289b6bd7a08e";
const MIGRATE: &str = "3bc801a33ea83df414e1aeb962a52412835be99db28668ec25de73fdd4733804";
const COREDNS: &str = "8a32e516d7415be524a7fcec482ad2918f2b6ef2a7f4cb8e2e232b361436b20b";
const TARGET: &str = "34a04005bcaf206eec990bd9637d9fdb6725e0a0c0d4aebf003f17f4c956eb5c";
const DEBUGGER: &str = "4c44d7c28ec0f6ca3e2624c6af1d3be324576d01ef6f6c2dc0af7e61664b8c2c";
/// The web container's previous instance, in `lastState` only: gone.
const OOM_KILLED: &str = "74ff5cca457b2214fa040ee40a6f3acc97fb108f51f1b5b674214063461f0a20";
const NOT_A_POD: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn meta(pod: &str, namespace: &str, container: &str) -> PodMeta {
    PodMeta {
        pod: pod.into(),
        namespace: namespace.into(),
        container: container.into(),
    }
}

#[test]
fn a_pod_list_names_every_started_container() {
    let listing = read_pod_list(PODS.as_bytes(), 1000).unwrap();
    let web_pod = "web-7d9f8b6c5d-x2k4p";
    let cases: &[(&str, Option<PodMeta>)] = &[
        (WEB, Some(meta(web_pod, "shop", "web"))),
        (EXPORTER, Some(meta(web_pod, "shop", "metrics-exporter"))),
        (MIGRATE, Some(meta(web_pod, "shop", "migrate"))),
        (
            COREDNS,
            Some(meta("coredns-5d78c9869d-9tqzx", "kube-system", "coredns")),
        ),
        (TARGET, Some(meta("debug-target", "default", "target"))),
        (
            DEBUGGER,
            Some(meta("debug-target", "default", "debugger-kx7wq")),
        ),
        (OOM_KILLED, None),
        (NOT_A_POD, None),
    ];
    for (id, want) in cases {
        assert_eq!(listing.containers.get(*id), want.as_ref(), "{id}");
    }
    // The pending Job pod counts, but its container has no id yet.
    assert_eq!(listing.pods, 4);
    assert_eq!(listing.containers.len(), 6);
    assert_eq!(listing.pods_over_cap, 0);
}

#[test]
fn pods_past_max_pods_are_counted_not_kept() {
    let listing = read_pod_list(PODS.as_bytes(), 2).unwrap();
    assert_eq!((listing.pods, listing.pods_over_cap), (2, 2));
    assert!(listing.containers.contains_key(COREDNS));
    assert!(!listing.containers.contains_key(TARGET));
}

#[test]
fn pod_list_edge_shapes() {
    let cases: &[(&str, Option<(usize, usize)>)] = &[
        (
            r#"{"kind":"PodList","apiVersion":"v1","items":[]}"#,
            Some((0, 0)),
        ),
        (r#"{"kind":"PodList","items":null}"#, Some((0, 0))),
        (
            r#"{"items":[{"metadata":{"name":"p","namespace":"n"},"status":{"containerStatuses":null}}]}"#,
            Some((1, 0)),
        ),
        (
            r#"{"items":[{"metadata":{"name":"p","namespace":"n"},"status":{"containerStatuses":[{"name":"c","containerID":""}]}}]}"#,
            Some((1, 0)),
        ),
        (r#"{"kind":"PodList"}"#, None),
        (r#"{"kind":"Status","code":500}"#, None),
        (r#"{"items":[{"metadata":{"name":"p"}}"#, None),
        ("<html>502 Bad Gateway</html>", None),
    ];
    for (json, want) in cases {
        let got = read_pod_list(json.as_bytes(), 10)
            .ok()
            .map(|l| (l.pods, l.containers.len()));
        assert_eq!(got, *want, "{json}");
    }
}

#[test]
fn container_ids_are_compared_bare_and_lowercase() {
    let cases = [
        (format!("containerd://{WEB}"), WEB),
        (format!("cri-o://{WEB}"), WEB),
        (format!("docker://{WEB}"), WEB),
        (WEB.to_ascii_uppercase(), WEB),
        (WEB.to_owned(), WEB),
    ];
    for (id, want) in &cases {
        assert_eq!(bare_container_id(id), *want, "{id}");
    }
}

#[test]
fn config_defaults_and_unknown_keys() {
    let config: KubernetesConfig = toml::from_str("").unwrap();
    assert_eq!(config, KubernetesConfig::default());
    assert_eq!(config.enabled, KubernetesMode::Auto);
    assert_eq!(
        config.token_file,
        Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token")
    );
    assert_eq!(config.refresh_secs, 30);
    config.validate().unwrap();

    let config: KubernetesConfig =
        toml::from_str("enabled = \"off\"\nnode_name = \"node-a\"\nrefresh_secs = 60\n").unwrap();
    assert_eq!(config.enabled, KubernetesMode::Off);
    assert_eq!(config.node_name.as_deref(), Some("node-a"));
    assert!(toml::from_str::<KubernetesConfig>("refresh = 60").is_err());
    assert!(toml::from_str::<KubernetesConfig>("enabled = \"yes\"").is_err());
}

#[test]
fn invalid_config_names_the_key() {
    let cases: &[(KubernetesConfig, &str)] = &[
        (
            KubernetesConfig {
                api_server: Some("http://10.96.0.1".into()),
                ..KubernetesConfig::default()
            },
            "kubernetes.api_server",
        ),
        (
            KubernetesConfig {
                refresh_secs: 0,
                ..KubernetesConfig::default()
            },
            "kubernetes.refresh_secs",
        ),
        (
            KubernetesConfig {
                miss_refresh_secs: 0,
                ..KubernetesConfig::default()
            },
            "kubernetes.miss_refresh_secs",
        ),
        (
            KubernetesConfig {
                max_pods: 0,
                ..KubernetesConfig::default()
            },
            "kubernetes.max_pods",
        ),
        (
            KubernetesConfig {
                timeout_secs: 0,
                ..KubernetesConfig::default()
            },
            "kubernetes.timeout_secs",
        ),
    ];
    for (config, key) in cases {
        assert_eq!(config.validate().unwrap_err().key, *key);
    }
}

/// What `client_for` should decide.
#[derive(Debug)]
enum Want {
    /// A client for this base URL and node.
    Client(&'static str, &'static str),
    /// No client, nothing logged.
    Quiet,
    /// No client, and the reason logged.
    Logged,
}

#[test]
fn whether_to_ask_the_api_server() {
    let dir = scratch("decision");
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let token_file = dir.join("token");
    let in_pod = || Environment {
        service_host: Some("10.96.0.1".into()),
        service_port: Some("443".into()),
        node_name: Some("node-a".into()),
    };
    let with = |enabled, token_file: &Path| KubernetesConfig {
        enabled,
        token_file: token_file.to_owned(),
        ..KubernetesConfig::default()
    };
    use KubernetesMode::{Auto, Off, On};
    let missing = dir.join("missing");
    let cases: Vec<(KubernetesConfig, Environment, Want)> = vec![
        (
            with(Auto, &token_file),
            in_pod(),
            Want::Client("https://10.96.0.1:443", "node-a"),
        ),
        (with(Off, &token_file), in_pod(), Want::Quiet),
        (with(Auto, &token_file), Environment::default(), Want::Quiet),
        (with(On, &token_file), Environment::default(), Want::Logged),
        (with(Auto, &missing), in_pod(), Want::Logged),
        (
            with(Auto, &token_file),
            Environment {
                node_name: None,
                ..in_pod()
            },
            Want::Logged,
        ),
        (
            KubernetesConfig {
                node_name: Some("node-b".into()),
                ..with(Auto, &token_file)
            },
            Environment {
                node_name: None,
                service_port: None,
                ..in_pod()
            },
            Want::Client("https://10.96.0.1:443", "node-b"),
        ),
        (
            with(Auto, &token_file),
            Environment {
                service_host: Some("fd00:10:96::1".into()),
                ..in_pod()
            },
            Want::Client("https://[fd00:10:96::1]:443", "node-a"),
        ),
        (
            KubernetesConfig {
                api_server: Some("https://api.cluster.example:6443/".into()),
                ..with(On, &token_file)
            },
            Environment {
                node_name: Some("node-c".into()),
                ..Environment::default()
            },
            Want::Client("https://api.cluster.example:6443", "node-c"),
        ),
        (
            KubernetesConfig {
                api_server: Some("http://api.cluster.example".into()),
                ..with(On, &token_file)
            },
            in_pod(),
            Want::Logged,
        ),
    ];
    for (config, env, want) in cases {
        let got = client_for(&config, &env);
        match (got, want) {
            (Ok(client), Want::Client(url, node)) => {
                assert_eq!(
                    (client.base_url.as_str(), client.node_name.as_str()),
                    (url, node)
                );
            }
            (Err(Unavailable::Quietly), Want::Quiet) => {}
            (Err(Unavailable::Because(_)), Want::Logged) => {}
            (got, want) => panic!(
                "{config:?} {env:?}: got {:?}, want {want:?}",
                got.map(|c| c.base_url)
            ),
        }
    }
}

#[test]
fn lists_the_node_pods_over_verified_tls_with_the_token() {
    let ca = TestCa::new("cluster CA");
    let server = FakeApiServer::start(&ca, TOKEN, PODS);
    let dir = credentials("lists", &ca.pem(), TOKEN);
    let index = PodIndex::from_environment(&config_for(&server, &dir)).unwrap();
    let counters = wait_for(&index, "the first listing", |c| c.refreshes >= 1);
    assert_eq!((counters.pods, counters.containers), (4, 6));

    assert_eq!(
        index.lookup(&format!("containerd://{WEB}")),
        Some(meta("web-7d9f8b6c5d-x2k4p", "shop", "web"))
    );
    assert_eq!(
        index.lookup(DEBUGGER),
        Some(meta("debug-target", "default", "debugger-kx7wq"))
    );
    assert_eq!(index.lookup(OOM_KILLED), None);
    let counters = index.counters();
    assert_eq!((counters.lookup_hits, counters.lookup_misses), (2, 1));

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let (path, query) = requests[0].target.split_once('?').unwrap();
    assert_eq!(path, "/api/v1/pods");
    let mut params: Vec<&str> = query.split('&').collect();
    params.sort();
    assert_eq!(
        params,
        ["fieldSelector=spec.nodeName%3Dnode-a", "resourceVersion=0"]
    );
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let json = serde_json::to_value(index.counters()).unwrap();
    assert_eq!(json["pods"], 4);
}

#[test]
fn a_server_certificate_from_another_ca_is_refused_until_that_ca_is_trusted() {
    let cluster_ca = TestCa::new("cluster CA");
    let other_ca = TestCa::new("someone else's CA");
    let server = FakeApiServer::start(&other_ca, TOKEN, PODS);
    let dir = credentials("wrong_ca", &cluster_ca.pem(), TOKEN);
    let config = KubernetesConfig {
        refresh_secs: 1,
        ..config_for(&server, &dir)
    };
    let index = PodIndex::from_environment(&config).unwrap();
    let counters = wait_for(&index, "a failed listing", |c| c.refresh_failures >= 1);
    assert_eq!(counters.refreshes, 0);
    assert_eq!(index.lookup(WEB), None);
    // The handshake failed: the token never reached the server.
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // The same server is accepted once its CA is the one trusted (the CA
    // file is read again on every listing).
    std::fs::write(dir.join("ca.crt"), other_ca.pem()).unwrap();
    wait_for(&index, "a listing with the right CA", |c| c.refreshes >= 1);
    assert!(index.lookup(WEB).is_some());
}

#[test]
fn a_refused_token_is_counted_and_a_rotated_one_is_used() {
    let ca = TestCa::new("cluster CA");
    let server = FakeApiServer::start(&ca, TOKEN, PODS);
    let dir = credentials("token", &ca.pem(), "expired-token");
    let config = KubernetesConfig {
        refresh_secs: 1,
        ..config_for(&server, &dir)
    };
    let index = PodIndex::from_environment(&config).unwrap();
    let counters = wait_for(&index, "two failed listings", |c| c.refresh_failures >= 2);
    assert_eq!(counters.refreshes, 0);
    assert_eq!(index.lookup(WEB), None);
    assert_eq!(
        server.requests()[0].authorization.as_deref(),
        Some("Bearer expired-token")
    );

    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    wait_for(&index, "a listing with the new token", |c| c.refreshes >= 1);
    assert!(index.lookup(WEB).is_some());
}

#[test]
fn an_unknown_container_triggers_one_early_listing() {
    let ca = TestCa::new("cluster CA");
    let mut only_coredns: serde_json::Value = serde_json::from_str(PODS).unwrap();
    only_coredns["items"]
        .as_array_mut()
        .unwrap()
        .retain(|pod| pod["metadata"]["namespace"] == "kube-system");
    let server = FakeApiServer::start(&ca, TOKEN, &only_coredns.to_string());
    let dir = credentials("miss", &ca.pem(), TOKEN);
    let config = KubernetesConfig {
        miss_refresh_secs: 1,
        ..config_for(&server, &dir)
    };
    let index = PodIndex::from_environment(&config).unwrap();
    wait_for(&index, "the first listing", |c| c.refreshes >= 1);

    // The web pod starts after the listing; its first connection misses
    // and brings its listing forward.
    server.set_body(PODS);
    assert_eq!(index.lookup(WEB), None);
    wait_for(&index, "an early listing", |c| c.miss_refreshes >= 1);
    assert!(index.lookup(WEB).is_some());

    // A container that is no pod's asks once, then is remembered absent.
    assert_eq!(index.lookup(NOT_A_POD), None);
    wait_for(&index, "a second early listing", |c| c.miss_refreshes >= 2);
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        assert_eq!(index.lookup(NOT_A_POD), None);
        std::thread::sleep(Duration::from_millis(100));
    }
    let counters = index.counters();
    assert_eq!((counters.refreshes, counters.miss_refreshes), (3, 2));
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn the_refresher_stops_with_the_last_handle() {
    let ca = TestCa::new("cluster CA");
    let server = FakeApiServer::start(&ca, TOKEN, PODS);
    let dir = credentials("stops", &ca.pem(), TOKEN);
    let config = KubernetesConfig {
        refresh_secs: 1,
        ..config_for(&server, &dir)
    };
    let index = PodIndex::from_environment(&config).unwrap();
    let clone = index.clone();
    drop(index);
    wait_for(&clone, "two listings", |c| c.refreshes >= 2);
    drop(clone);
    // A listing in flight may still finish; none starts after it.
    std::thread::sleep(Duration::from_millis(500));
    let after_drop = server.requests().len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.requests().len(), after_drop);
}

fn config_for(server: &FakeApiServer, dir: &Path) -> KubernetesConfig {
    KubernetesConfig {
        enabled: KubernetesMode::On,
        api_server: Some(server.url.clone()),
        token_file: dir.join("token"),
        ca_file: dir.join("ca.crt"),
        node_name: Some("node-a".into()),
        // Only the listings a test asks for.
        refresh_secs: 3600,
        timeout_secs: 5,
        ..KubernetesConfig::default()
    }
}

/// A service account directory: `token` and `ca.crt`.
fn credentials(name: &str, ca_pem: &str, token: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("token"), token).unwrap();
    std::fs::write(dir.join("ca.crt"), ca_pem).unwrap();
    dir
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-k8s-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls the counters until `done`, failing the test after 10 s.
fn wait_for(
    index: &PodIndex,
    what: &str,
    done: impl Fn(&KubernetesCounters) -> bool,
) -> KubernetesCounters {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counters = index.counters();
        if done(&counters) {
            return counters;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within 10 s: {counters:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
