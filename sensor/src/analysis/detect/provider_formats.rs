//! Providers' published key formats, keyed by the prefix that names the
//! provider. `secret.generic_credential` consults them: a value that opens
//! with a provider's prefix is that provider's key, and a key of that
//! provider exists only in its format. A value with the prefix but the
//! wrong length or alphabet (a truncated copy, extra characters from a bad
//! paste, a stand-in such as `sm_pat_v76d26b57f`) is not a usable key, so
//! the generic rule does not report it; gitleaks and trufflehog judge such
//! values by the same provider patterns.
//!
//! Each format is the union of what gitleaks' default rules, trufflehog's
//! detectors and noseyparker's rules accept for the prefix (the rule ids
//! are given), so a key any of them finds is not dropped here. Only prefixes that
//! name one provider are listed: short or shared ones (`sk-`, `SK`,
//! `key-`) are not. Providers whose format has several generations with
//! the same prefix (GitHub's `github_pat_`, Square's `sq0csp-`) are left
//! to their own rules. A prefix the table does not know changes nothing.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// (prefix, full pattern of the key, anchored here).
const FORMATS: &[(&str, &str)] = &[
    // AWS access key ids (gitleaks aws-access-token, noseyparker
    // np.aws.1; secret.aws_access_key_id).
    ("AKIA", "AKIA[A-Z0-9]{16}"),
    ("ASIA", "ASIA[A-Z0-9]{16}"),
    // Google API keys (gitleaks gcp-api-key; secret.google_api_key).
    ("AIza", "AIza[0-9A-Za-z_-]{35}"),
    // OpenAI admin keys (gitleaks openai-api-key, trufflehog openaiadmin).
    (
        "sk-admin-",
        "sk-admin-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})",
    ),
    // Anthropic (gitleaks anthropic-api-key, anthropic-admin-api-key,
    // noseyparker's Anthropic rule).
    (
        "sk-ant-",
        "sk-ant-(?:(?:api03|admin01)-[A-Za-z0-9_-]{80,100}AA|api[0-9]{2}-[A-Za-z0-9_-]{95})",
    ),
    // OpenRouter (trufflehog openrouter).
    ("sk-or-v1-", "sk-or-v1-[0-9a-f]{64}"),
    // xAI (trufflehog xai).
    ("xai-", "xai-[0-9A-Za-z_]{80}"),
    // Cloudflare API tokens and global keys, current format (trufflehog
    // cloudflareapitoken v2, cloudflareglobalapikey v2).
    ("cfut_", "cfut_[A-Za-z0-9]{40}[a-f0-9]{8}"),
    ("cfat_", "cfat_[A-Za-z0-9]{40}[a-f0-9]{8}"),
    ("cfk_", "cfk_[A-Za-z0-9]{40}[a-f0-9]{8}"),
    // 1Password service accounts (gitleaks 1password-service-account-token).
    ("ops_eyJ", "ops_eyJ[A-Za-z0-9+/]{250,}={0,3}"),
    // Databricks (gitleaks databricks-api-token, noseyparker np.databricks.1).
    ("dapi", "dapi[a-f0-9]{32}(?:-[0-9]+)?"),
    // GitLab OAuth application secrets (gitleaks gitlab-oauth-app-secret,
    // trufflehog gitlaboauth2).
    ("gloas-", "gloas-[0-9A-Za-z_-]{64}"),
    // SettleMint (gitleaks settlemint-*-access-token; secret.settlemint_token).
    ("sm_pat_", "sm_pat_[A-Za-z0-9]{16}"),
    ("sm_aat_", "sm_aat_[A-Za-z0-9]{16}"),
    ("sm_sat_", "sm_sat_[A-Za-z0-9]{16}"),
    // Adafruit IO (trufflehog adafruitio).
    ("aio_", "aio_[A-Za-z0-9]{28}"),
    // Alchemy (trufflehog alchemy).
    ("alcht_", "alcht_[A-Za-z0-9]{30}"),
    // Apify (trufflehog apify).
    ("apify_api_", "apify_api_[A-Za-z0-9-]{36}"),
    // JFrog Artifactory API keys and reference tokens (gitleaks
    // artifactory-api-key, artifactory-reference-token, noseyparker
    // np.artifactory.1).
    ("AKCp", "AKCp[A-Za-z0-9]{69}"),
    ("cmVmdGtu", "cmVmdGtu[A-Za-z0-9]{56}"),
    // Duffel (gitleaks duffel-api-token, trufflehog duffeltoken).
    ("duffel_test_", "duffel_test_[A-Za-z0-9_=-]{43}"),
    ("duffel_live_", "duffel_live_[A-Za-z0-9_=-]{43}"),
    // PhotoRoom (trufflehog photoroom).
    ("sk_pr_", "sk_pr_[A-Za-z0-9]{1,64}_[A-Fa-f0-9]{40}"),
    // SonarCloud (trufflehog sonarcloud v2).
    ("sqco_", "sqco_[A-Za-z0-9]{59}"),
    // Linear (gitleaks linear-api-key).
    ("lin_api_", "lin_api_[A-Za-z0-9]{40}"),
    // Harness personal and service account tokens (gitleaks
    // harness-api-key, trufflehog harness).
    ("pat.", r"pat\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"),
    ("sat.", r"sat\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"),
    // Plaid access tokens (gitleaks plaid-api-token, trufflehog plaidkey).
    (
        "access-sandbox-",
        "access-sandbox-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    (
        "access-development-",
        "access-development-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    (
        "access-production-",
        "access-production-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    // SpectralOps (trufflehog spectralops).
    ("spu-", "spu-[a-z0-9]{32}"),
    // New Relic (gitleaks new-relic-user-api-key, new-relic-insert-key,
    // new-relic-browser-api-token; trufflehog newrelic*; noseyparker
    // np.newrelic.*).
    ("NRAK-", "NRAK-[A-Za-z0-9]{27}"),
    ("NRII-", "NRII-(?:[A-Za-z0-9_-]{32}|[A-Za-z0-9_-]{25})"),
    ("NRIQ-", "NRIQ-(?:[A-Za-z0-9_-]{32}|[A-Za-z0-9_-]{25})"),
    ("NRBR-", "NRBR-[0-9a-f]{19}"),
];

static COMPILED: LazyLock<Vec<(&'static [u8], Regex)>> = LazyLock::new(|| {
    FORMATS
        .iter()
        .map(|(prefix, pattern)| {
            let regex = Regex::new(&format!("^(?:{pattern})$")).expect("provider formats compile");
            (prefix.as_bytes(), regex)
        })
        .collect()
});

/// `value` opens with a provider's prefix but is not in that provider's
/// format. Only the text before an escaped line break (`\n` in quoted
/// text) is the value.
pub fn off_format(value: &[u8]) -> bool {
    let end = value
        .windows(2)
        .position(|w| w[0] == b'\\' && matches!(w[1], b'n' | b'r' | b't'))
        .unwrap_or(value.len());
    let value = &value[..end];
    COMPILED
        .iter()
        .find(|(prefix, _)| value.starts_with(prefix))
        .is_some_and(|(_, format)| !format.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let hex = |n: usize| "a1b2c3d4e5f6".repeat(n).chars().take(n).collect::<String>();
        for (value, off) in [
            // Truncated, padded, and one-character-off keys.
            (format!("cfut_{}", "ZE4CrcFhEIDXk9vL2sTLe"), true),
            (
                format!(
                    "cfut_{}{}",
                    "Kq7vP2xR9sT4".repeat(4).get(..40).unwrap(),
                    hex(8)
                ),
                false,
            ),
            (
                format!(
                    "cfut_{}{}EXTRA",
                    "Kq7vP2xR9sT4".repeat(4).get(..40).unwrap(),
                    hex(8)
                ),
                true,
            ),
            ("sm_pat_v76d26b57f".into(), true),
            ("sm_pat_Kq7vP2xR9sT4uW6y".into(), false),
            ("dapi123456789012345678a9bc01234defg5".into(), true),
            (format!("dapi{}", hex(32)), false),
            (format!("dapi{}-2", hex(32)), false),
            ("ASIABBKK02W42Q3IPSP".into(), true),
            ("ASIAY34FZKBOKMUTVV7A".into(), false),
            ("NRAK-GDJSS4QZORUYIC1OGTRNGQMT5V".into(), true),
            ("NRAK-alk3bxpgwvxfsghx77cl12cxfo1".into(), false),
            // Escaped text: the value ends at `\n`.
            ("NRAK-alk3bxpgwvxfsghx77cl12cxfo1\\nNEXT=1".into(), false),
            // No known prefix: not this table's to judge.
            ("Kq7vP2xR9sT4uW6yZ8aB1cD3".into(), false),
            ("sk-abc123invalid".into(), false),
        ] {
            assert_eq!(off_format(value.as_bytes()), off, "{value}");
        }
    }
}
