//! Property tests over request parsing and validation: whatever arrives, the parsers
//! answer (accept or refuse with field errors) and never panic; what they accept keeps
//! every character the client sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use roster_core::listing::ListParams;
use roster_core::{Email, groups, people};
use serde_json::{Map, Value, json};

/// Strings that have hurt servers before, mixed with arbitrary ones.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'; DROP TABLE groups; --".to_owned()),
        Just("\" OR 1=1 --".to_owned()),
        Just("../../../../etc/passwd".to_owned()),
        Just("%2e%2e%2f%2e%2e%2f".to_owned()),
        Just("\u{0}nul\u{0}".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("\u{202e}right-to-left".to_owned()),
        Just("😀".repeat(300)),
        any::<String>(),
        "[a-z]{0,20}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        Just(json!(1e308)),
        hostile_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("name".to_owned()),
                    Just("description".to_owned()),
                    Just("members".to_owned()),
                    Just("guests".to_owned()),
                    Just("add".to_owned()),
                    Just("remove".to_owned()),
                    Just("email".to_owned()),
                    Just("role".to_owned()),
                    any::<String>()
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(body in json_value()) {
        let _ = groups::parse_create(&body);
        let _ = groups::parse_update(&body);
        let _ = groups::parse_member_patch(&body, roster_core::Timestamp::from_millis(0));
        let _ = groups::parse_guest_patch(&body, roster_core::Timestamp::from_millis(0));
        let _ = people::parse_invite(&body);
        let _ = people::parse_member_update(&body);
        let _ = people::parse_role(&body);
        let _ = people::parse_new_guest(&body);
        let _ = people::parse_guest_update(&body);
    }

    #[test]
    fn valid_names_are_kept_verbatim(name in hostile_string(), description in hostile_string()) {
        let name = name.trim().to_owned();
        let description = description.trim().to_owned();
        prop_assume!(!name.is_empty() && !description.is_empty() && name.chars().count() <= 200);
        prop_assume!(!name.contains('\0') && !description.contains('\0'));
        let write = groups::parse_create(&json!({"name": name, "description": description}))
            .expect("a valid create");
        prop_assert_eq!(write.name.as_ref().map(|n| n.as_str()), Some(name.as_str()));
        prop_assert_eq!(write.description.as_deref(), Some(description.as_str()));
    }

    #[test]
    fn listing_parameters_never_panic(pairs in prop::collection::vec((hostile_string(), hostile_string()), 0..8)) {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let _ = ListParams::parse(pairs.iter().copied(), groups::SORT_FIELDS);
        let with_known: Vec<(&str, &str)> = pairs.iter().map(|(_, v)| ("per_page", *v)).chain(pairs.iter().map(|(_, v)| ("page", *v))).collect();
        if let Ok(params) = ListParams::parse(with_known.iter().copied(), groups::SORT_FIELDS) {
            prop_assert!((1..=100).contains(&params.per_page));
            prop_assert!(params.page >= 1);
            let _ = params.offset();
        }
    }

    #[test]
    fn emails_parse_or_refuse(raw in hostile_string()) {
        if let Some(email) = Email::parse(&raw) {
            prop_assert_eq!(email.as_str(), raw.trim().to_lowercase());
        }
    }
}

#[test]
fn ten_megabyte_strings_are_refused_or_kept_never_truncated() {
    let huge = "x".repeat(10 * 1024 * 1024);
    let refused = groups::parse_create(&json!({"name": huge, "description": "d"}));
    assert!(refused.is_err(), "a 10 MB name is over the 200-character limit");
    let kept = groups::parse_create(&json!({"name": "n", "description": huge}))
        .expect("descriptions have no limit here");
    assert_eq!(kept.description.map(|d| d.len()), Some(10 * 1024 * 1024));
}
