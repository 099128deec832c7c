//! Sensitive data: PII recognised by validated patterns (email, phone,
//! SSN, card, IBAN), by field name (dates of birth, government ids), and
//! excessive data exposure: sensitive field names carrying values in
//! responses.
//!
//! A valid card, IBAN, phone number or SSN that is a published example
//! (4111 1111 1111 1111, a bank's documentation IBAN, 555-01xx, 078-05-1120)
//! is test data, and test data in production traffic is still worth
//! knowing: it is reported under `pii.example.*` at low severity (the rule
//! id is the marker), or under the type's own rule with
//! `report_example_values = true`.

use super::redact::Mask;
use super::rules::{Check, Scope, Spec};
use super::types::{Category::SensitiveData, Severity::*};

/// A published example value of a PII rule, found where that rule's
/// check holds (see `checks::Verdict::Example`).
const EXAMPLE: Spec = Spec {
    category: SensitiveData,
    severity: Low,
    scope: Scope::Special,
    ..Spec::BASE
};

const PII: Spec = Spec {
    category: SensitiveData,
    severity: Medium,
    scope: Scope::Pii,
    ..Spec::BASE
};

pub const SPECS: &[Spec] = &[
    Spec {
        id: "pii.email",
        description: "Email address (documentation domains excluded)",
        keywords: &["@", "%40"],
        regex: Some(r"(?:^|[^A-Za-z0-9._%+:/-]|mailto:)([A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8})"),
        check: Check::Email,
        mask: Mask::Email,
        ..PII
    },
    Spec {
        id: "pii.phone",
        example: Some("pii.example.phone"),
        description: "Phone number: international or formatted North American, validated",
        digits: true,
        regex: Some(r"(?:^|[^0-9A-Za-z+.-])(\+[1-9][0-9]{0,2}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{1,4}){1,4}|\(?[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-][0-9]{4})(?:$|[^0-9A-Za-z.-])"),
        check: Check::Phone,
        mask: Mask::Phone,
        ..PII
    },
    Spec {
        id: "pii.phone_national",
        description: "Phone number in national format (trunk prefix 0, or a Chinese mobile) where a field name or the text says phone",
        keywords: &["phone", "mobile", "tel", "cell", "fax", "whatsapp"],
        regex: Some(r"(?:^|[^0-9A-Za-z+.-])(0[1-9][0-9]{0,3}[ .-][0-9]{2,4}(?:[ .-]?[0-9]{2,4}){1,2}|1[3-9][0-9]{9})(?:$|[^0-9A-Za-z.-])"),
        check: Check::NationalPhone,
        mask: Mask::Phone,
        ..PII
    },
    Spec {
        id: "pii.ssn",
        example: Some("pii.example.ssn"),
        severity: High,
        description: "US social security number (area, group and serial rules; known fakes excluded)",
        digits: true,
        regex: Some(r"(?:^|[^0-9-])([0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4})(?:$|[^0-9-])"),
        check: Check::Ssn,
        mask: Mask::Ssn,
        ..PII
    },
    Spec {
        id: "pii.card",
        example: Some("pii.example.card"),
        severity: Critical,
        description: "Payment card number (issuer prefix, length and Luhn; test cards excluded)",
        digits: true,
        regex: Some(r"(?:^|[^0-9.])([0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{1,7}|[0-9]{4}[ -]?[0-9]{6}[ -]?[0-9]{4,5})(?:$|[^0-9.])"),
        check: Check::Card,
        mask: Mask::Card,
        ..PII
    },
    Spec {
        id: "pii.iban",
        example: Some("pii.example.iban"),
        severity: High,
        description: "IBAN (country length and mod-97 check; documentation examples excluded)",
        digits: true,
        regex: Some(r"\b([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?)\b"),
        check: Check::Iban,
        mask: Mask::Iban,
        ..PII
    },
    Spec {
        id: "pii.date_of_birth",
        description: "Date of birth in a field named for it",
        keywords: &["dob", "birth"],
        fields: &["dob", "dateofbirth", "birthdate", "birthday", "birthdt", "dobdate"],
        check: Check::Date,
        mask: Mask::Hidden,
        ..PII
    },
    Spec {
        id: "pii.government_id",
        severity: High,
        description: "Government identifier (passport, national id, driver's licence, tax id) in a field named for it",
        keywords: &["passport", "national", "licen", "tax", "tin", "nin", "sin", "aadhaar", "cpf", "dni", "nif", "idnumber", "id_number", "idcard", "id_card"],
        fields: &[
            "passport", "passportnumber", "passportno", "nationalid", "nationalidnumber",
            "nationalidentifier", "nationalinsurancenumber", "driverslicense", "driverlicense",
            "driverslicensenumber", "driverlicensenumber", "drivinglicence", "drivinglicencenumber",
            "taxid", "taxidentificationnumber", "tin", "nin", "nino", "sin",
            "socialinsurancenumber", "aadhaar", "aadhaarnumber", "cpf", "dni", "nif",
            "idnumber", "idcardnumber", "nationalidcard",
        ],
        check: Check::GovId,
        mask: Mask::Hidden,
        ..PII
    },
    Spec {
        id: "pii.private_ip",
        severity: Low,
        description: "Private, loopback-adjacent or link-local IPv4 address in a response body",
        keywords: &["10.", "172.", "192.168.", "169.254.", "100."],
        keywords_start_numbers: true,
        regex: Some(r"(?:^|[^0-9.])((?:10|172|192|169|100)\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})(?:$|[^0-9.]|\.(?:$|[^0-9]))"),
        check: Check::PrivateIp,
        mask: Mask::Ip,
        scope: Scope::ResponseBody,
        ..PII
    },
    Spec {
        id: "pii.sensitive_field",
        severity: High,
        description: "Field named password, secret, salt, ssn, cvv, pin, private_key, api_key, token (and spellings) with a value in a response",
        keywords: &["pass", "pwd", "secret", "salt", "ssn", "social", "cvv", "cvc", "security", "\"pin", "pin=", "private", "api_key", "apikey", "api-key", "token"],
        fields: &[
            "password", "passwd", "pwd", "pass", "passwordhash", "hashedpassword", "passwordsalt",
            "passworddigest", "encryptedpassword", "userpassword", "secret", "clientsecret",
            "secretkey", "apisecret", "appsecret", "salt", "cvv",
            "cvv2", "cvc", "cvc2", "cardsecuritycode", "securitycode", "pin", "pincode",
            "privatekey", "apikey", "accesstoken", "refreshtoken", "token", "authtoken",
            "sessiontoken", "idtoken", "securityanswer", "secretanswer", "otpsecret",
            "totpsecret", "mfasecret",
        ],
        check: Check::NonEmpty,
        mask: Mask::Hidden,
        scope: Scope::ResponseBody,
        ..PII
    },
    Spec {
        id: "pii.example.card",
        // Normalised (and so fingerprinted) as the rule it stands for.
        check: Check::Card,
        description: "Published test card number (4111 1111 1111 1111 and the like): test data in this traffic",
        mask: Mask::Card,
        ..EXAMPLE
    },
    Spec {
        id: "pii.example.iban",
        // Normalised (and so fingerprinted) as the rule it stands for.
        check: Check::Iban,
        description: "Documentation IBAN (DE89 3704 0044 0532 0130 00 and the like): test data in this traffic",
        mask: Mask::Iban,
        ..EXAMPLE
    },
    Spec {
        id: "pii.example.phone",
        // Normalised (and so fingerprinted) as the rule it stands for.
        check: Check::Phone,
        description: "Phone number in the 555-0100..0199 block reserved for fiction: test data in this traffic",
        mask: Mask::Phone,
        ..EXAMPLE
    },
    Spec {
        id: "pii.example.ssn",
        // Normalised (and so fingerprinted) as the rule it stands for.
        check: Check::Ssn,
        description: "Published example SSN (078-05-1120, 219-09-9999, 123-45-6789): test data in this traffic",
        mask: Mask::Ssn,
        ..EXAMPLE
    },
];
