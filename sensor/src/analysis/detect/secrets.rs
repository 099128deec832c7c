//! Secrets: provider credentials in their real formats (with the checksum
//! where the format has one), private keys, password hashes, and URIs
//! carrying passwords. Documented example values are placeholders and
//! never match (`Check::Secret` / `Check::NotPlaceholder`).

use super::redact::Mask;
use super::rules::{Check, Spec};
use super::types::Severity::*;

pub const SPECS: &[Spec] = &[
    Spec {
        id: "secret.aws_access_key_id",
        gitleaks: &["aws-access-token"],
        severity: Critical,
        description: "AWS access key id (AKIA long-term, ASIA temporary)",
        keywords: &["akia", "asia"],
        regex: Some(r"\b((?:AKIA|ASIA)[A-Z2-7]{16})\b"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.aws_secret_key",
        severity: Critical,
        description: "AWS secret access key next to its name",
        keywords: &[
            "secret_access_key",
            "secretaccesskey",
            "aws_secret",
            "secret-access-key",
        ],
        regex: Some(
            r#"(?i)secret[_-]?access[_-]?key["']?\s{0,4}[:=]\s{0,4}["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
        ),
        fields: &["awssecretaccesskey", "secretaccesskey", "awssecretkey"],
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.aws_session_token",
        severity: High,
        description: "AWS session token (STS) next to its name",
        keywords: &[
            "session_token",
            "sessiontoken",
            "security-token",
            "securitytoken",
            "security_token",
        ],
        regex: Some(
            r#"(?i)(?:aws_?session_?token|x-amz-security-token)["']?\s{0,4}[:=]\s{0,4}["']?([A-Za-z0-9/+=]{100,2048})"#,
        ),
        fields: &[
            "awssessiontoken",
            "xamzsecuritytoken",
            "sessiontoken",
            "securitytoken",
        ],
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.google_api_key",
        gitleaks: &["gcp-api-key"],
        // Browser and mobile apps ship their key (restricted by referrer
        // or app): worth knowing, rarely a breach.
        severity: Low,
        description: "Google API key (AIza...) outside a public Firebase web config",
        keywords: &["aiza"],
        regex: Some(r"\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)"),
        check: Check::GoogleApiKey,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.google_oauth_client_secret",
        severity: Critical,
        description: "Google OAuth client secret (GOCSPX-...)",
        keywords: &["gocspx-"],
        regex: Some(r"\b(GOCSPX-[0-9A-Za-z_-]{28})(?:[^0-9A-Za-z_-]|$)"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(7),
        ..Spec::BASE
    },
    Spec {
        id: "secret.google_oauth_access_token",
        description: "Google OAuth access token (ya29....)",
        keywords: &["ya29."],
        regex: Some(r"\b(ya29\.[0-9A-Za-z_-]{30,2048})"),
        check: Check::Secret,
        mask: Mask::Prefix(5),
        ..Spec::BASE
    },
    Spec {
        id: "secret.stripe_key",
        gitleaks: &["stripe-access-token"],
        severity: Critical,
        description: "Stripe live secret or restricted key (sk_live_, rk_live_, sk_prod_, rk_prod_)",
        keywords: &["sk_live_", "rk_live_", "sk_prod_", "rk_prod_"],
        regex: Some(r"\b((?:sk|rk)_(?:live|prod)_[0-9A-Za-z]{24,247})\b"),
        check: Check::Stripe,
        mask: Mask::Prefix(8),
        ..Spec::BASE
    },
    Spec {
        id: "secret.stripe_test_key",
        severity: Low,
        gitleaks: &["stripe-access-token"],
        description: "Stripe test-mode secret or restricted key (sk_test_, rk_test_): no money moves, but it opens the account's test data",
        keywords: &["sk_test_", "rk_test_"],
        regex: Some(r"\b((?:sk|rk)_test_[0-9A-Za-z]{24,247})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(8),
        ..Spec::BASE
    },
    Spec {
        id: "secret.picatic_key",
        description: "Picatic API key (sk_live_ and 32 lowercase characters)",
        keywords: &["sk_live_"],
        regex: Some(r"\b(sk_live_[0-9a-z]{32})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(8),
        ..Spec::BASE
    },
    Spec {
        id: "secret.square_token",
        gitleaks: &["square-access-token", "square-secret"],
        severity: Critical,
        description: "Square access token or OAuth secret",
        keywords: &["sq0atp-", "sq0csp-"],
        regex: Some(r"\b(sq0atp-[0-9A-Za-z_-]{22}|sq0csp-[0-9A-Za-z_-]{43})(?:[^0-9A-Za-z_-]|$)"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(7),
        ..Spec::BASE
    },
    Spec {
        id: "secret.braintree_token",
        severity: Critical,
        description: "PayPal Braintree production access token",
        keywords: &["access_token$production$"],
        regex: Some(r"(access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(24),
        ..Spec::BASE
    },
    Spec {
        id: "secret.amazon_mws_token",
        description: "Amazon MWS auth token",
        keywords: &["amzn.mws."],
        regex: Some(r"(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"),
        mask: Mask::Prefix(9),
        ..Spec::BASE
    },
    Spec {
        id: "secret.twilio_api_key",
        gitleaks: &["twilio-api-key"],
        description: "Twilio API key (SK and 32 hex digits)",
        // `SK` and the first hex digit: `sk` alone is in every other word.
        keywords: &[
            "sk0", "sk1", "sk2", "sk3", "sk4", "sk5", "sk6", "sk7", "sk8", "sk9", "ska", "skb",
            "skc", "skd", "ske", "skf",
        ],
        regex: Some(r"\b(SK[0-9a-f]{32})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(2),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sendgrid_key",
        gitleaks: &["sendgrid-api-token"],
        severity: Critical,
        description: "SendGrid API key (SG.xxx.yyy)",
        keywords: &["sg."],
        regex: Some(r"\b(SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43})(?:[^0-9A-Za-z_-]|$)"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(3),
        ..Spec::BASE
    },
    Spec {
        id: "secret.mailgun_key",
        gitleaks: &["mailgun-private-api-token"],
        description: "Mailgun API key (key- and 32 characters)",
        keywords: &["key-"],
        regex: Some(r"\b(key-[0-9a-z]{32})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.mailchimp_key",
        gitleaks: &["mailchimp-api-key"],
        description: "Mailchimp API key (32 hex digits and a datacenter)",
        keywords: &["-us"],
        regex: Some(r"\b([0-9a-f]{32}-us[0-9]{1,2})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.slack_token",
        gitleaks: &["slack-bot-token", "slack-user-token", "slack-app-token", "slack-config-access-token", "slack-config-refresh-token", "slack-legacy-bot-token", "slack-legacy-workspace-token", "slack-legacy-token"],
        severity: Critical,
        description: "Slack bot, user, app or refresh token (xox?-, xapp-)",
        keywords: &["xox", "xapp-"],
        regex: Some(
            r"\b(xox[abposre]-[0-9A-Za-z-]{10,250}|xapp-[0-9]-[A-Z0-9]{6,32}-[0-9]{6,20}-[a-f0-9]{32,80})\b",
        ),
        check: Check::Slack,
        mask: Mask::Prefix(5),
        ..Spec::BASE
    },
    Spec {
        id: "secret.slack_webhook",
        gitleaks: &["slack-webhook-url"],
        description: "Slack incoming webhook, workflow or trigger URL",
        keywords: &["hooks.slack.com"],
        // Incoming webhooks are `T…/B…/secret`, workflow and trigger URLs
        // `T…/A…/id/secret` or one generated path: the path must look
        // generated (`Check::Secret`), not be a stand-in.
        regex: Some(
            r"((?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,120})",
        ),
        check: Check::Secret,
        mask: Mask::Prefix(24),
        ..Spec::BASE
    },
    Spec {
        id: "secret.github_token",
        gitleaks: &["github-pat", "github-fine-grained-pat", "github-oauth", "github-app-token", "github-refresh-token"],
        severity: Critical,
        description: "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_ with CRC32 check; github_pat_)",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        regex: Some(
            r"\b((?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}|github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59})\b",
        ),
        check: Check::CrcToken,
        mask: Mask::Prefix(11),
        ..Spec::BASE
    },
    Spec {
        id: "secret.gitlab_token",
        gitleaks: &["gitlab-pat", "gitlab-pat-routable", "gitlab-deploy-token", "gitlab-ptt", "gitlab-rrt", "gitlab-runner-authentication-token", "gitlab-runner-authentication-token-routable"],
        severity: Critical,
        description: "GitLab personal, deploy, pipeline-trigger or runner token",
        keywords: &["glpat-", "gldt-", "glptt-", "glrt-", "gr1348941"],
        regex: Some(
            r"\b(glpat-[0-9A-Za-z_-]{20,80}|gldt-[0-9A-Za-z_-]{20,80}|glptt-[0-9a-f]{40}|glrt-[0-9A-Za-z_-]{20,80}|GR1348941[0-9A-Za-z_-]{20})(?:[^0-9A-Za-z_-]|$)",
        ),
        check: Check::Secret,
        mask: Mask::Prefix(9),
        ..Spec::BASE
    },
    Spec {
        id: "secret.npm_token",
        gitleaks: &["npm-access-token"],
        severity: Critical,
        description: "npm access token (npm_ with CRC32 check)",
        keywords: &["npm_"],
        regex: Some(r"\b(npm_[0-9A-Za-z]{36})\b"),
        check: Check::CrcToken,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.nuget_key",
        description: "NuGet API key (oy2 and 43 characters)",
        keywords: &["oy2"],
        regex: Some(r"\b(oy2[a-z0-9]{43})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(3),
        ..Spec::BASE
    },
    Spec {
        id: "secret.nuget_config_password",
        gitleaks: &["nuget-config-password"],
        description: "Password of a package source in a NuGet.config (<add key=\"ClearTextPassword\" value=...>)",
        keywords: &["<add key="],
        regex: Some(
            r#"(?i)<add\s+key=\\?"(?:cleartext)?password\\?"\s+value=\\?"([^"\\]{8,200})\\?"\s*/?>"#,
        ),
        check: Check::ConfigPassword,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sonarqube_token",
        gitleaks: &["sonar-api-token"],
        description: "SonarQube token (sqp_, squ_, sqa_)",
        keywords: &["sqp_", "squ_", "sqa_"],
        regex: Some(r"\b(sq[pua]_[0-9a-f]{40})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sonarqube_login",
        gitleaks: &["sonar-api-token"],
        description: "SonarQube token (40 characters, sqp_/squ_/sqa_ or none) assigned to sonar.login or sonar.token",
        keywords: &["sonar"],
        // gitleaks' `sonar-api-token`: the scanner property names, then
        // the token's 40 characters.
        regex: Some(
            r#"(?i)sonar[_.-]?(?:login|token)[ \t\w.-]{0,20}[ \t'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[`'"\s=]{0,5}((?:squ_|sqp_|sqa_)?[a-z0-9=_-]{40})(?:[`'"\s;]|\\[nr]|$)"#,
        ),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sidekiq_credentials",
        gitleaks: &["sidekiq-secret"],
        description: "Sidekiq Pro/Enterprise gem server credentials (BUNDLE_ENTERPRISE__CONTRIBSYS__COM, BUNDLE_GEMS__CONTRIBSYS__COM: 8 hex digits, a colon, 8 hex digits)",
        keywords: &["__contribsys__com"],
        regex: Some(
            r#"(?i)BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[ \t'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[`'"\s=]{0,5}([a-f0-9]{8}:[a-f0-9]{8})(?:[`'"\s;]|\\[nr]|$)"#,
        ),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sumologic_access_id",
        gitleaks: &["sumologic-access-id"],
        severity: Medium,
        description: "Sumo Logic access id (su and 12 letters or digits) assigned to a Sumo-named variable",
        keywords: &["sumo"],
        // `Sumo`/`SUMO`/`sumo`, case as written: `sumObj` is not a name
        // for Sumo Logic.
        regex: Some(
            r#"(?:[Ss]umo|SUMO)[ \t\w.-]{0,20}[ \t'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[`'"\s=]{0,5}(su[a-zA-Z0-9]{12})(?:[`'"\s;]|\\[nr]|$)"#,
        ),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sauce_access_key",
        description: "Sauce Labs access key next to its name",
        keywords: &["sauce"],
        regex: Some(
            r#"(?i)sauce[_-]?access[_-]?key["']?\s{0,4}[:=]\s{0,4}["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"#,
        ),
        fields: &["sauceaccesskey", "saucekey"],
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.hockeyapp_token",
        severity: Medium,
        description: "HockeyApp API token next to its name",
        keywords: &["hockey"],
        regex: Some(
            r#"(?i)hockey[_-]?app[_-]?(?:api[_-]?)?(?:token|key)["']?\s{0,4}[:=]\s{0,4}["']?([0-9a-f]{32})\b"#,
        ),
        fields: &[
            "hockeyapptoken",
            "hockeyappkey",
            "hockeyappapitoken",
            "hockeytoken",
        ],
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.stackhawk_key",
        description: "StackHawk API key (hawk.xxx.yyy)",
        keywords: &["hawk."],
        regex: Some(r"\b(hawk\.[0-9A-Za-z_-]{20}\.[0-9A-Za-z_-]{20})(?:[^0-9A-Za-z_-]|$)"),
        check: Check::Secret,
        mask: Mask::Prefix(5),
        ..Spec::BASE
    },
    Spec {
        id: "secret.facebook_access_token",
        gitleaks: &["facebook-access-token", "facebook-page-access-token"],
        description: "Facebook (Meta) access token (EAA...)",
        keywords: &["eaa"],
        regex: Some(r"\b(EAA[0-9A-Za-z]{90,400})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(3),
        ..Spec::BASE
    },
    Spec {
        id: "secret.openai_key",
        gitleaks: &["openai-api-key"],
        severity: Critical,
        description:
            "OpenAI API key (sk-, sk-proj-, sk-svcacct-, sk-admin- with the T3BlbkFJ marker)",
        keywords: &["t3blbkfj"],
        regex: Some(
            r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,200}T3BlbkFJ[A-Za-z0-9_-]{16,200})(?:[^A-Za-z0-9_-]|$)",
        ),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(14),
        ..Spec::BASE
    },
    Spec {
        id: "secret.anthropic_key",
        gitleaks: &["anthropic-api-key", "anthropic-admin-api-key"],
        severity: Critical,
        description: "Anthropic API or admin key (sk-ant-api03-, sk-ant-admin01-)",
        keywords: &["sk-ant-"],
        regex: Some(r"\b(sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{80,100}AA)(?:[^A-Za-z0-9_-]|$)"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(16),
        ..Spec::BASE
    },
    Spec {
        id: "secret.private_key",
        gitleaks: &["private-key"],
        severity: Critical,
        description:
            "PEM or PGP private key (RSA, EC, DSA, OpenSSH, PKCS#8, PGP) with key material",
        keywords: &["-----begin"],
        // Between the armor and the key material: line breaks, written out
        // (`\r\n` in a quoted string) or real, and the joins of a key
        // split across string concatenation (`"-----" +\n"MIIE...`).
        regex: Some(
            r#"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:\s|\\[rn]|["']\s*\+\s*["'])*(?:[A-Za-z-]{1,32}: [^\r\n]{0,200}\r?\n\s*)*[A-Za-z0-9+/=]{40})"#,
        ),
        check: Check::NotPlaceholder,
        mask: Mask::Pem,
        ..Spec::BASE
    },
    Spec {
        id: "secret.settlemint_token",
        gitleaks: &["settlemint-personal-access-token", "settlemint-application-access-token", "settlemint-service-access-token"],
        description: "SettleMint personal, application or service access token (sm_pat_, sm_aat_, sm_sat_)",
        keywords: &["sm_pat_", "sm_aat_", "sm_sat_"],
        regex: Some(r"\b(sm_(?:pat|aat|sat)_[a-zA-Z0-9]{16})\b"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(7),
        ..Spec::BASE
    },
    Spec {
        id: "secret.azure_ad_client_secret",
        gitleaks: &["azure-ad-client-secret"],
        severity: Critical,
        description: "Microsoft Entra ID (Azure AD) client secret (the Q~ marker after four characters)",
        keywords: &["q~"],
        regex: Some(r#"(?:^|[\\'"`\s>=:(,)])([a-zA-Z0-9_~.]{3}[0-9]Q~[a-zA-Z0-9_~.-]{31,34})(?:$|[\\'"`\s<),])"#),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.azure_storage_key",
        severity: Critical,
        description: "Azure storage account key (86 base64 characters and ==, a 512-bit key) after an account or storage key name, as in connection strings and SDK initialisers",
        keywords: &["accountkey", "account_key", "storagekey", "storage_key"],
        regex: Some(
            r"(?i)(?:account_?key|storage_?key)[^a-z0-9+/]{1,30}([a-z0-9+/]{86}==)(?:[^a-z0-9+/=]|$)",
        ),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.azure_container_registry_password",
        severity: Critical,
        description: "Azure Container Registry access key (42 base64 characters, the +ACR marker, 6 more)",
        keywords: &["+acr"],
        regex: Some(
            r"(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{42}\+ACR[A-Za-z0-9+/]{6})(?:[^A-Za-z0-9+/=]|$)",
        ),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.kubernetes_secret_data",
        gitleaks: &["kubernetes-secret-yaml"],
        severity: High,
        description: "Kubernetes Secret manifest with base64 data values (decoded: at least 8 bytes; templates, empty and short values are not findings)",
        keywords: &["kind: secret", "kind: 'secret", "kind: \"secret"],
        // A `key: value` line (or a `|`/`>` block scalar's first line) whose
        // value is one base64 word; the check wants `kind: Secret` in the
        // same text and the value to decode.
        regex: Some(
            r#"(?m)^[ \t]*[A-Za-z0-9_.-]{1,253}:[ \t]*(?:[|>][-+]?[ \t]*\r?\n[ \t]+)?['"]?([A-Za-z0-9+/]{12,8192}={0,2})['"]?[ \t]*\r?$"#,
        ),
        check: Check::KubernetesSecretData,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.teams_webhook",
        gitleaks: &["microsoft-teams-webhook"],
        description: "Microsoft Teams incoming webhook URL",
        keywords: &["office.com/webhook"],
        regex: Some(
            r"(https://(?:[a-z0-9-]{1,63}\.webhook|outlook)\.office(?:365)?\.com/webhook(?:b2)?/[0-9a-f-]{36}@[0-9a-f-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36})",
        ),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(34),
        ..Spec::BASE
    },
    Spec {
        id: "secret.dockerhub_token",
        description: "Docker Hub personal access token (dckr_pat_)",
        keywords: &["dckr_pat_"],
        regex: Some(r"\b(dckr_pat_[A-Za-z0-9_-]{27})(?:[^A-Za-z0-9_-]|$)"),
        check: Check::Secret,
        mask: Mask::Prefix(9),
        ..Spec::BASE
    },
    Spec {
        id: "secret.telegram_bot_token",
        gitleaks: &["telegram-bot-api-token"],
        description: "Telegram bot token (bot id, colon, AA and 33 characters)",
        keywords: &[":aa"],
        regex: Some(r"\b([0-9]{8,10}:AA[A-Za-z0-9_-]{32,33})(?:[^A-Za-z0-9_-]|$)"),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sourcegraph_token",
        gitleaks: &["sourcegraph-access-token"],
        description: "Sourcegraph access token (sgp_)",
        keywords: &["sgp_"],
        regex: Some(r"\b(sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40})\b"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.notion_token",
        gitleaks: &["notion-api-token"],
        description: "Notion integration token (ntn_)",
        keywords: &["ntn_"],
        regex: Some(r"\b(ntn_[0-9]{11}[A-Za-z0-9]{35})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.tavily_key",
        description: "Tavily API key (tvly-)",
        keywords: &["tvly-"],
        regex: Some(r"\b(tvly-(?:dev-|prod-)?[A-Za-z0-9]{32})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(5),
        ..Spec::BASE
    },
    Spec {
        id: "secret.easypost_key",
        gitleaks: &["easypost-api-token", "easypost-test-api-token"],
        description: "EasyPost production or test API key (EZAK, EZTK)",
        keywords: &["ezak", "eztk"],
        regex: Some(r"\b(EZ[AT]K[A-Za-z0-9]{54})\b"),
        check: Check::Secret,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.flyio_token",
        gitleaks: &["flyio-access-token"],
        description: "Fly.io access or macaroon token (fo1_, fm1a_, fm1r_, fm2_)",
        keywords: &["fo1_", "fm1a_", "fm1r_", "fm2_"],
        regex: Some(r"\b(fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,4096}={0,3}|fm2_[A-Za-z0-9+/]{100,4096}={0,3})"),
        check: Check::Secret,
        mask: Mask::Prefix(4),
        ..Spec::BASE
    },
    Spec {
        id: "secret.private_key_base64",
        gitleaks: &["private-key"],
        severity: Critical,
        description: "Base64-encoded PEM private key (LS0tLS1CRUdJTi...)",
        keywords: &["ls0tls1crudjti"],
        regex: Some(r"\b(LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,8192}={0,2})"),
        check: Check::Base64Pem,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.password_hash",
        description: "Password hash (bcrypt, argon2, scrypt, sha-crypt, md5-crypt, PBKDF2, Cisco type 8/9, Kerberos AS-REP)",
        keywords: &[
            "$2a$", "$2b$", "$2y$", "$2x$", "$argon2", "$scrypt$", "$7$", "$5$", "$6$", "pbkdf2",
            "$1$", "$8$", "$9$", "$krb5asrep$",
        ],
        // Kerberos AS-REP (etype 23, RC4) as roasting tools print it for
        // cracking (hashcat mode 18200, noseyparker np.krb5.asrep.23.1):
        // `$krb5asrep$23$[user@realm:]` 32 hex digits of checksum, `$`, the
        // encrypted part in hex; it yields the account's password offline.
        regex: Some(
            r"(\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}|\$argon2(?:id|i|d)\$v=[0-9]{1,3}\$m=[0-9]{1,8},t=[0-9]{1,4},p=[0-9]{1,3}\$[A-Za-z0-9+/]{8,128}\$[A-Za-z0-9+/]{16,256}|\$scrypt\$ln=[0-9]{1,2},r=[0-9]{1,3},p=[0-9]{1,3}\$[A-Za-z0-9+/]{8,128}\$[A-Za-z0-9+/]{16,256}|\$7\$[./A-Za-z0-9]{14,64}\$[./A-Za-z0-9]{43}|\$[56]\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}|\$1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}|\$[89]\$[./A-Za-z0-9]{14}\$[./A-Za-z0-9]{43}|pbkdf2_sha(?:1|256|512)\$[0-9]{1,9}\$[A-Za-z0-9+/=]{1,128}\$[A-Za-z0-9+/=]{20,256}|\$pbkdf2(?:-sha(?:1|256|512))?\$[0-9]{1,9}\$[./A-Za-z0-9+=]{1,128}\$[./A-Za-z0-9+=]{20,256}|\$krb5asrep\$23\$(?:[^$:\s]{1,256}:)?[0-9a-f]{32}\$[0-9a-f]{64,8192})",
        ),
        check: Check::None,
        mask: Mask::Prefix(15),
        ..Spec::BASE
    },
    Spec {
        id: "secret.database_uri",
        severity: Critical,
        description: "Database or message-broker URI with an embedded password",
        keywords: &[
            "postgres",
            "mysql://",
            "mariadb://",
            "mongodb",
            "redis://",
            "rediss://",
            "amqp",
            "mssql://",
            "sqlserver://",
            "oracle://",
            "kafka://",
            "nats://",
            "mqtt",
            "couchdb://",
            "clickhouse://",
            "cassandra://",
            "jdbc:",
        ],
        regex: Some(
            r#"(?i)\b((?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|oracle|kafka|nats|mqtts?|couchdb|clickhouse|cassandra|jdbc:[a-z]{2,12})://[^\s:/@"'<>]{0,64}:([^\s@/"'<>]{1,128})@[A-Za-z0-9._-]{1,253}(?::[0-9]{1,5})?)"#,
        ),
        check: Check::UriPassword,
        mask: Mask::Uri,
        ..Spec::BASE
    },
    Spec {
        id: "secret.url_credentials",
        gitleaks: &["sidekiq-sensitive-url"],
        description: "user:password embedded in an HTTP or FTP URL",
        keywords: &["http://", "https://", "ftp://", "ftps://"],
        regex: Some(
            r#"(?i)\b((?:https?|ftps?)://[^\s:/@"'<>]{1,64}:([^\s@/"'<>]{1,128})@[A-Za-z0-9._-]{1,253}(?::[0-9]{1,5})?)"#,
        ),
        check: Check::UriPassword,
        mask: Mask::Uri,
        ..Spec::BASE
    },
    Spec {
        id: "secret.curl_user_password",
        gitleaks: &["curl-auth-user"],
        description: "Password given to curl on its command line (curl ... -u/--user user:password)",
        keywords: &["curl"],
        regex: Some(r#"(?:^|\s)(?:-u|--user)[ \t]+['"]?[^\s'":]{0,64}['"]?:['"]?([^\s'"]{1,128})"#),
        check: Check::CliPassword,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.age_secret_key",
        gitleaks: &["age-secret-key"],
        severity: Critical,
        description: "age encryption secret key (AGE-SECRET-KEY-1 and 58 bech32 characters)",
        keywords: &["age-secret-key-1"],
        regex: Some(r"\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b"),
        check: Check::None,
        mask: Mask::Prefix(16),
        ..Spec::BASE
    },
    Spec {
        id: "secret.huggingface_token",
        gitleaks: &["huggingface-access-token", "huggingface-organization-api-token"],
        description: "Hugging Face access or organisation token (hf_, api_org_)",
        keywords: &["hf_", "api_org_"],
        regex: Some(r"\b((?:hf_|api_org_)[A-Za-z]{34})\b"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(3),
        ..Spec::BASE
    },
    Spec {
        id: "secret.sentry_token",
        gitleaks: &["sentry-org-token", "sentry-user-token"],
        description: "Sentry organisation or user auth token (sntrys_, sntryu_)",
        keywords: &["sntrys_", "sntryu_"],
        regex: Some(r"\b(sntrys_eyJpYXQiO[A-Za-z0-9+/=]{10,400}_[A-Za-z0-9+/]{43}|sntryu_[a-f0-9]{64})(?:[^A-Za-z0-9+/]|$)"),
        check: Check::NotPlaceholder,
        mask: Mask::Prefix(7),
        ..Spec::BASE
    },
    Spec {
        id: "secret.maxmind_license_key",
        gitleaks: &["maxmind-license-key"],
        description: "MaxMind license key (6 characters, _, 29 characters, _mmk)",
        keywords: &["_mmk"],
        // MaxMind's current license key format (gitleaks
        // maxmind-license-key, trufflehog maxmindlicense v2); older
        // 16-character keys have no marker and are left to the generic rule.
        regex: Some(r"\b([A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)\b"),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.truenas_api_key",
        severity: Critical,
        description: "TrueNAS API key (id, -, 64 letters and digits) in an auth.login_with_api_key call",
        keywords: &["login_with_api_key"],
        // TrueNAS keys are `<id>-<64 alphanumerics>`; the JSON-RPC login
        // call names them (noseyparker np.truenas.1).
        regex: Some(
            r#"auth\.login_with_api_key"\s*,\s*"params"\s*:\s*\[\s*"([0-9]{1,6}-[A-Za-z0-9]{64})""#,
        ),
        check: Check::Secret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.openshift_token",
        gitleaks: &["openshift-user-token"],
        description: "OpenShift user token (sha256~ and 43 characters)",
        keywords: &["sha256~"],
        regex: Some(r"\b(sha256~[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)"),
        check: Check::Secret,
        mask: Mask::Prefix(7),
        ..Spec::BASE
    },
    Spec {
        id: "secret.xml_credential",
        severity: Medium,
        description: "Generated-looking value inside an XML credential element (<secret>, <password>, <token>, <apiToken>, <apiKey>, <clientSecret>), as in Jenkins credentials.xml",
        // Few keywords: each one grows the prefilter every byte goes through.
        keywords: &[
            "<secret>",
            "<password>",
            "<token>",
            "<apitoken>",
            "<apikey>",
            "<clientsecret>",
        ],
        regex: Some(
            r"(?i)<(?:secret|password|token|apitoken|apikey|clientsecret)>([^<]{8,400})</",
        ),
        check: Check::XmlCredential,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
    Spec {
        id: "secret.generic_credential",
        gitleaks: &["generic-api-key"],
        severity: Medium,
        description: "Generated-looking value assigned to a credential-named variable in config or code text (key, token, secret, password = ...)",
        keywords: &["token", "secret", "passw", "api_key", "apikey", "api-key", "access_key", "accesskey", "auth", "credential", "_key", "key="],
        regex: Some(
            // The name and its separator share a line (a bare `= value`
            // line is not named by the line above); `name - 'value'`
            // needs the quote; a value never ends in `:` (that is the
            // next YAML key after an empty section such as `api:`); an
            // auth scheme before the value (`token = "Bearer ..."`) is
            // not the value.
            r#"(?i)[0-9a-z_.-]{0,40}(?:access|auth|api|credential|creds|key|passw(?:or)?d|secret|token)[ \t0-9a-z_.-]{0,20}[ \t'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,|[ \t]-[ \t]{1,3}[`'"])[`'"\s=]{0,5}(?:(?:bearer|basic|token)[ \t]+)?([0-9a-z_.=+/~:\\^!@#$%&*?|-]{9,399}[0-9a-z_.=+/~\\^!@#$%&*?|-])(?:[`'"\s;<,)]|\\[nr]|$)"#,
        ),
        check: Check::GenericSecret,
        mask: Mask::Prefix(0),
        ..Spec::BASE
    },
];

#[cfg(test)]
mod tests;
