//! One line per provider format: a synthetic, format-valid value must be
//! found and masked; a near miss must not.

use super::super::tests::{detector, exchange, github_token};
use crate::analysis::detect::{validators::base62_crc32, DetectConfig};

fn crc_token(prefix: &str, body: &str) -> String {
    format!(
        "{prefix}{body}{}",
        String::from_utf8_lossy(&base62_crc32(body.as_bytes()))
    )
}

fn found(text: &str) -> Vec<(String, String)> {
    let d = detector(&DetectConfig::default());
    let body = format!("config dump:\n{text}\n");
    d.inspect(&exchange(
        "GET",
        "/",
        &[],
        "",
        &[("Content-Type", "text/plain")],
        &body,
    ))
    .into_iter()
    .map(|f| (f.rule, f.evidence))
    .collect()
}

#[test]
fn providers() {
    let hex32 = "9f2c4e7a1b3d5f60718293f4c5a6e7d8";
    let cases: Vec<(String, &str, &str)> = vec![
        ("AKIAZ3MHQX7KDPLR4WTN".into(), "secret.aws_access_key_id", "AKIA****"),
        ("aws_secret_access_key = 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".into(), "secret.aws_secret_key", "****"),
        ("AIzaSyD4mK9pQ2rT7vX1zB3cF6hJ8kL0nP5sW2y".into(), "secret.google_api_key", "AIza****"),
        ("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".into(), "secret.google_oauth_client_secret", "GOCSPX-****"),
        ("ya29.a0AfH6SMBx7Kq2pR9tV4wY1zC3eG5iK8mO0qS2uW4y".into(), "secret.google_oauth_access_token", "ya29.****"),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dcQ2".into(), "secret.stripe_key", "sk_live_****"),
        ("sk_live_4ec39hqlyjwdarjtt1zdp7dcq2ab9x8w".into(), "secret.picatic_key", "sk_live_****"),
        ("rk_prod_4eC39HqLyjWDarjtT1zdp7dcQ2".into(), "secret.stripe_key", "rk_prod_****"),
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dcQ2".into(), "secret.stripe_test_key", "sk_test_****"),
        ("AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE".into(), "secret.age_secret_key", "AGE-SECRET-KEY-****"),
        ("hf_KqvPxRsTuWyZaBcDeFgHjKmNpQrStUvWxY".into(), "secret.huggingface_token", "hf_****"),
        (format!("sntryu_{hex32}{hex32}"), "secret.sentry_token", "sntryu_****"),
        ("sha256~Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6t".into(), "secret.openshift_token", "sha256~****"),
        (format!("settings: DATADOG_API_KEY = \"{hex32}\""), "secret.generic_credential", "****"),
        ("sq0atp-4kP9qR2sT7vW1xZ3bC6dF8".into(), "secret.square_token", "sq0atp-****"),
        (format!("access_token$production$a1b2c3d4e5f6g7h8${hex32}"), "secret.braintree_token", "access_token$production$****"),
        ("amzn.mws.4f2a9c1e-7b3d-4e5f-8a6b-9c0d1e2f3a4b".into(), "secret.amazon_mws_token", "amzn.mws.****"),
        (format!("SK{hex32}"), "secret.twilio_api_key", "SK****"),
        ("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".into(), "secret.sendgrid_key", "SG.****"),
        ("key-3ax6xnjp29jd6fds4gc373sgvjxteol0".into(), "secret.mailgun_key", "key-****"),
        (format!("{hex32}-us14"), "secret.mailchimp_key", "****"),
        ("xoxb-2817364950-4417306912853-Kq7vP2xR9sT4uW6yZ8aB1cD3".into(), "secret.slack_token", "xoxb-****"),
        ("https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/Kq7vP2xR9sT4uW6yZ8aB1cD3".into(), "secret.slack_webhook", "https://hooks.slack.com/****"),
        (github_token("ghp_"), "secret.github_token", "ghp_****"),
        (github_token("ghs_"), "secret.github_token", "ghs_****"),
        ("github_pat_11ABCDEFG0123456789abc_Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU8vW0xY2zA4bC6dE".into(), "secret.github_token", "github_pat_****"),
        ("glpat-Kq7vP2xR9sT4uW6yZ8aB".into(), "secret.gitlab_token", "glpat-****"),
        (crc_token("npm_", "Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7"), "secret.npm_token", "npm_****"),
        ("oy2kq7vp2xr9st4uw6yz8ab1cd3ef5gh7jk9mn2pq4rs6t".into(), "secret.nuget_key", "oy2****"),
        ("sqp_9f2c4e7a1b3d5f60718293a4b5c6d7e8f9a0b1c2".into(), "secret.sonarqube_token", "sqp_****"),
        ("sonar.login=Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4r".into(), "secret.sonarqube_login", "****"),
        ("export BUNDLE_ENTERPRISE__CONTRIBSYS__COM=9f2c4e7a:1b3d5f60".into(), "secret.sidekiq_credentials", "****"),
        ("sumologic.accessId = \"su9OL59biWiJu7\"".into(), "secret.sumologic_access_id", "****"),
        ("SAUCE_ACCESS_KEY=4f2a9c1e-7b3d-4e5f-8a6b-9c0d1e2f3a4b".into(), "secret.sauce_access_key", "****"),
        (format!("HOCKEYAPP_TOKEN={hex32}"), "secret.hockeyapp_token", "****"),
        ("hawk.Kq7vP2xR9sT4uW6yZ8aB.Cq7vP2xR9sT4uW6yZ8aB".into(), "secret.stackhawk_key", "hawk.****"),
        (format!("EAACEdEose0cBA{}", "Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG1hJ3kL5mN7pQ9rS2tU4vW6xY8zA0bC2dE4"), "secret.facebook_access_token", "EAA****"),
        ("sk-proj-Kq7vP2xR9sT4uW6yZ8aB1cD3T3BlbkFJeF5gH7jK9mN2pQ4rS6tU8".into(), "secret.openai_key", "sk-proj-****"),
        (format!("sk-ant-api03-{}AA", "Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG1hJ3kL5mN7pQ9rS2tU4vW6xY8zA0b"), "secret.anthropic_key", "sk-ant-api03-****"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n".into(), "secret.private_key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
        // Split across string concatenation, and with written-out line breaks.
        ("key = \"-----BEGIN RSA PRIVATE KEY-----\" +\n  \"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlw\" +".into(), "secret.private_key", "-----BEGIN RSA PRIVATE KEY-----"),
        ("\"-----BEGIN RSA PRIVATE KEY-----\\r\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlw\\r\\n".into(), "secret.private_key", "-----BEGIN RSA PRIVATE KEY-----"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObG".into(), "secret.password_hash", "$argon2id$v=19$****"),
        ("pbkdf2_sha256$600000$Kq7vP2xR9sT4$Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6t=".into(), "secret.password_hash", "pbkdf2_sha256$****"),
        (format!("$krb5asrep$23$svc_sql@CORP.EXAMPLE:{hex32}${hex32}{hex32}"), "secret.password_hash", "$krb5asrep$23$****"),
        ("geoip license_key=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".into(), "secret.maxmind_license_key", "****"),
        ("{\"msg\": \"method\", \"method\": \"auth.login_with_api_key\", \"params\": [\"3-Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG1h\"]}".into(), "secret.truenas_api_key", "****"),
        ("mongodb+srv://svc:Zq8vT3xK@cluster0.mongo.internal/db".into(), "secret.database_uri", "mongodb+srv://****:****@cluster0.mongo.internal"),
        ("https://deploy:Zq8vT3xK@git.internal.io/repo.git".into(), "secret.url_credentials", "https://****:****@git.internal.io"),
        ("https://hooks.slack.com/triggers/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".into(), "secret.slack_webhook", "https://hooks.slack.com/****"),
        ("<com.cloudbees.plugins.credentials.impl.StringCredentialsImpl><secret>{AQAAABAAAAAQKq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4r=}</secret>".into(), "secret.xml_credential", "****"),
        (format!("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={}==;EndpointSuffix=core.windows.net", "Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG1hJ3kL5mN7pQ9rS2tU4vW6x+"), "secret.azure_storage_key", "****"),
        ("docker login acme.azurecr.io -u acme -p Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6+ACRbC6dE8".into(), "secret.azure_container_registry_password", "****"),
        ("apiVersion: v1\nkind: Secret\ndata:\n  extra: YWRtaW46cGFzc3dvcmQ=\n".into(), "secret.kubernetes_secret_data", "****"),
        ("apiVersion: v1\nkind: 'Secret'\ndata:\n  .dockercfg: |\n    eyJhdXRocyI6eyJyZWdpc3RyeSI6e319fQ==\n".into(), "secret.kubernetes_secret_data", "****"),
        ("deploy_token - 'Kq7vP2xR9sT4uW6yZ8aB1cD3'".into(), "secret.generic_credential", "****"),
        ("ADAFRUIT_IO_KEY=aio_Kq7vP2xR9sT4uW6yZ8aB1cD3eF5g".into(), "secret.generic_credential", "****"),
        ("acmeToken := \"Bearer Kq7vP2xR9sT4uW6yZ8aB1cD3\"".into(), "secret.generic_credential", "****"),
        ("curl -s --user 'deploy:pRf7vG2h1L8nQkW9' https://api.internal".into(), "secret.curl_user_password", "****"),
        ("api:\n  acme_api_key: \"Kq7vP2xR9sT4uW6yZ8aB1cD3\"".into(), "secret.generic_credential", "****"),
        ("<packageSourceCredentials><acme><add key=\"Username\" value=\"ci\" /><add key=\"ClearTextPassword\" value=\"Zq8vT3xK-s3cret\" /></acme>".into(), "secret.nuget_config_password", "****"),
    ];
    for (text, rule, evidence) in &cases {
        let got = found(text);
        assert!(
            got.iter().any(|(r, e)| r == rule && e == evidence),
            "{rule}: {text} {got:?}"
        );
        for (_, e) in &got {
            assert!(!e.contains(&text[text.len() - 8..]), "{rule} leaks: {e}");
        }
    }
}

#[test]
fn near_misses() {
    let mut bad_crc = github_token("ghp_");
    bad_crc.replace_range(6..7, if &bad_crc[6..7] == "A" { "B" } else { "A" });
    for text in [
        bad_crc.as_str(),
        "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        "postgres://user:password@localhost/db",
        "https://example.org/a:b@c",
        "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        // Stand-ins the issue-11 corpus showed as false alarms.
        "xoxb-12345-abcd234",
        "xoxp-1234567890",
        "xoxe.xoxp-1-RANDOMSTRINGHERE",
        "api_key = \"<YOUR_API_KEY>\"",
        "password = \"changeme\"",
        "tokenClass = \"ThisIsJustAWordInCamelCaseHere\"",
        "github_pat_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        // Public by design: a Firebase web app's config.
        "const firebaseConfig = { apiKey: \"AIzaSyD4mK9pQ2rT7vX1zB3cF6hJ8kL0nP5sW2y\", authDomain: \"acme-app.firebaseapp.com\", projectId: \"acme-app\" };",
        "<add key=\"ClearTextPassword\" value=\"%NUGET_PASSWORD%\" />",
        "https://hooks.slack.com/services/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        // An assignment's name is on its own line.
        "the key is not on this line\n = 'Kq7vP2xR9sT4uW6yZ8aB1cD3'",
        // A `?` where a token character was lost.
        "api_key = 'Kq7vP2xR9sT4?W6yZ8aB1cD3'",
        "<password>{your-password}</password>",
        "curl -i -u 'test:test' https://api.internal",
        "curl -u \"${USER}:${PASSWORD}\" https://api.internal",
        "curl --user neo4j:[PASSWORD] http://db:7474/",
        "curl -u <user:password> https://test.com/endpoint",
        // Secret manifests with nothing in them, or encrypted (SOPS).
        "apiVersion: v1\nkind: Secret\ndata:\n  extra: YmFyCg==\n",
        "apiVersion: v1\nkind: Secret\ndata:\n  password: {{ .Values.Password }}\n",
        "apiVersion: isindir.github.com/v1alpha3\nkind: SopsSecret\ndata:\n  data-name1: ZGF0YS12YWx1ZTE=\n",
        "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\n",
        "DUO_API_HOST=api-123456.duosecurity.com",
        // An ACR key one character short; a typed `$` in a key.
        "docker login acme.azurecr.io -u acme -p Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6+ACRbC6dE",
        "api_key = 'Kq7vP2xR9sT4$W6yZ8aB1cD3'",
        // A key opening with base64 padding; a counting stand-in; a lost
        // character opening a host.
        "mixpanel key = '=0UXRQ2DBF5rEJ-qlJTgJvwGqUJ'",
        "client_secret=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",
        "portainer token - '?ttp://api.Kq7vP2xR9sT4.com:12345'",
        "BUNDLE_GEMS__CONTRIBSYS__COM: 00000000:00000000",
        "sumObj = suGyI5imvADdvU",
        "export SUMOLOGIC_ACCESSID=XXXXXXXXXXXXXX",
        // A provider's prefix with the wrong length (truncated, extra
        // characters): not that provider's key, so not a generic one.
        "token := \"cfut_ZE4CrcFhEIDXk9vL2sTLe\"",
        "nonMatchingToken := \"sm_pat_v76d26b57f\"",
        "DATABRICKS_TOKEN=dapi123456789012345678a9bc01234defg5",
        // References to where a value is kept, and a count-down stand-in.
        "REACT_APP_FORGOT_PASSWORD=$REACT_APP_MATRIX_BASE_URL/classroom/#/forgot_password",
        "  const password = process.env.REACT_APP_FIREBASE_DEV_PASSWORD || \"not-set\"",
        " --set pixie-chart.deployKey=px-dep-d4c3b2a1-f6e5-h8g7-j1i8-p5o0n5m3l2k1 `",
        // One character short of a MaxMind key; a TrueNAS key of 63.
        "LicenseKey Kq7vP2_xR9sT4uW6yZ8aB1cD3eF5gH7jK9m_mmk",
        "{\"method\": \"auth.login_with_api_key\", \"params\": [\"3-Kq7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG1\"]}",
    ] {
        assert_eq!(found(text), vec![], "{text}");
    }
}
