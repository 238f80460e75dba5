//! Sign-then-verify tests of the whole scheme, with the committed test-only keys.

use std::net::IpAddr;
use std::sync::OnceLock;

use super::*;

const A_PRIVATE: &str = include_str!("../../tests/data/test_only_signer_a_pkcs1.pem");
const A_PUBLIC: &str = include_str!("../../tests/data/test_only_signer_a_spki.pub.pem");
const B_PRIVATE: &str = include_str!("../../tests/data/test_only_signer_b_pkcs8.pem");
const B_PUBLIC: &str = include_str!("../../tests/data/test_only_signer_b_pkcs1.pub.pem");

const NOW: u64 = 1_700_000_000;
const LATER: u64 = NOW + 3_600;
const ASSET: &str = "https://cdn.example.com/play/asset-1";

fn signer(key_pair_id: &str, pem: &str, hash: HashAlgorithm) -> UrlSigner {
    // Parsing and validating a key costs a little; the tests share one parse per key.
    static A: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    static B: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    let cell = if pem == A_PRIVATE { &A } else { &B };
    let key = cell
        .get_or_init(|| private_key_from_pem(pem).expect("test key parses"))
        .clone();
    UrlSigner::new(key_pair_id, key, hash).expect("valid signer")
}

fn signer_a() -> UrlSigner {
    signer("KA", A_PRIVATE, HashAlgorithm::Sha1)
}

fn signer_b() -> UrlSigner {
    signer("KB", B_PRIVATE, HashAlgorithm::Sha1)
}

fn key_group() -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.insert_pem("KA", A_PUBLIC).expect("A trusted");
    keys.insert_pem("KB", B_PUBLIC).expect("B trusted");
    keys
}

fn verify_url(url: &str, now: u64) -> Result<Grant, Denied> {
    verify_url_from(url, None, now)
}

fn verify_url_from(url: &str, client_ip: Option<IpAddr>, now: u64) -> Result<Grant, Denied> {
    let request = SignedRequest::from_signed_url(url, None, client_ip, now)?;
    key_group().verify(&request)
}

fn verify_cookies(
    url: &str,
    cookies: &[(&'static str, String)],
    now: u64,
) -> Result<Grant, Denied> {
    let header = cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");
    let request = SignedRequest::from_signed_url(url, Some(&header), None, now)?;
    key_group().verify(&request)
}

/// Replaces the value of query parameter `name` in `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("signed URL has a query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .expect("query")
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .expect("parameter present")
}

/// A different but well-formed signature: one bit of the last byte flipped.
fn flipped_signature(url: &str) -> String {
    let mut signature = cloudfront_base64_decode(param(url, "Signature")).expect("decodes");
    if let Some(last) = signature.last_mut() {
        *last ^= 1;
    }
    cloudfront_base64_encode(&signature)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test IP")
}

#[test]
fn canned_url_round_trip() {
    let url = format!("{ASSET}/master.m3u8?lang=en");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");
    assert!(signed.starts_with(&format!("{url}&Expires={LATER}&Signature=")));
    assert!(signed.ends_with("&Key-Pair-Id=KA"));

    let grant = verify_url(&signed, NOW).expect("accepted");
    assert_eq!(grant.kind(), PolicyKind::Canned);
    assert_eq!(grant.source(), SignatureSource::Query);
    assert_eq!(grant.key_pair_id(), "KA");
    assert_eq!(grant.expires(), LATER);
    assert_eq!(grant.resource(), url);
    assert!(!grant.has_wildcard());
    assert!(grant.covers(&url));
    assert!(grant.covers(&signed));
    assert!(!grant.covers(&format!("{ASSET}/master.m3u8")));
    // The suffix is the signing part of the URL, in the same order.
    assert_eq!(signed, format!("{url}&{}", grant.query_suffix()));
}

#[test]
fn custom_wildcard_url_round_trip_and_children() {
    let policy = Policy::custom(&format!("{ASSET}/*"), LATER, None, None).expect("policy");
    let signed = signer_a()
        .signed_url_custom(&format!("{ASSET}/master.m3u8"), &policy)
        .expect("signed");
    assert!(signed.contains("?Policy="));

    let grant = verify_url(&signed, NOW).expect("accepted");
    assert_eq!(grant.kind(), PolicyKind::Custom);
    assert!(grant.has_wildcard());
    assert_eq!(grant.policy(), &policy);

    // A manifest hands the same signature to every child URI.
    let suffix = grant.query_suffix();
    assert!(suffix.starts_with("Policy="));
    for child in [
        "v1/init.mp4",
        "v1/seg-00001.m4s",
        "a1/seg-1.m4s?x=1",
        "keys/k1",
    ] {
        let child_url = format!("{ASSET}/{child}");
        assert!(grant.covers(&child_url), "{child}");
        let separator = if child_url.contains('?') { '&' } else { '?' };
        let signed_child = format!("{child_url}{separator}{suffix}");
        verify_url(&signed_child, NOW).expect("child accepted");
    }
    for other in [
        "https://cdn.example.com/play/asset-2/master.m3u8",
        "https://cdn.example.com/play/asset-10/v1/seg-1.m4s",
        "https://cdn.example.com/play/asset-1",
        "http://cdn.example.com/play/asset-1/master.m3u8",
        "https://cdn.example.com/play/asset-1/../asset-2/master.m3u8",
    ] {
        assert!(!grant.covers(other), "{other}");
    }
    let elsewhere = format!("https://cdn.example.com/play/asset-2/master.m3u8?{suffix}");
    assert_eq!(verify_url(&elsewhere, NOW), Err(Denied::ResourceMismatch));
}

#[test]
fn question_mark_wildcard_matches_one_character() {
    let policy = Policy::custom(&format!("{ASSET}/seg-?.m4s"), LATER, None, None).expect("policy");
    let signed = signer_a()
        .signed_url_custom(&format!("{ASSET}/seg-1.m4s"), &policy)
        .expect("signed");
    let grant = verify_url(&signed, NOW).expect("accepted");
    assert!(grant.covers(&format!("{ASSET}/seg-9.m4s")));
    assert!(!grant.covers(&format!("{ASSET}/seg-10.m4s")));
    assert!(!grant.covers(&format!("{ASSET}/seg-.m4s")));
    let two_digits = format!("{ASSET}/seg-10.m4s?{}", grant.query_suffix());
    assert_eq!(verify_url(&two_digits, NOW), Err(Denied::ResourceMismatch));
}

#[test]
fn canned_url_with_a_literal_star_is_not_a_wildcard() {
    let url = format!("{ASSET}/*");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");
    let grant = verify_url(&signed, NOW).expect("accepted");
    assert!(!grant.has_wildcard());
    assert!(!grant.covers(&format!("{ASSET}/seg-1.m4s")));
    let other = with_param(&signed, "Expires", &LATER.to_string()).replace("/*?", "/x?");
    assert_eq!(verify_url(&other, NOW), Err(Denied::BadSignature));
}

#[test]
fn sha256_round_trip_and_algorithm_is_bound() {
    let sha256 = signer("KA", A_PRIVATE, HashAlgorithm::Sha256);
    let canned = sha256
        .signed_url_canned(&format!("{ASSET}/master.m3u8"), LATER)
        .expect("signed");
    assert!(canned.ends_with("&Key-Pair-Id=KA&Hash-Algorithm=SHA256"));
    let grant = verify_url(&canned, NOW).expect("accepted");
    assert_eq!(grant.hash_algorithm(), HashAlgorithm::Sha256);
    assert!(grant.query_suffix().ends_with("&Hash-Algorithm=SHA256"));

    let policy = Policy::custom(&format!("{ASSET}/*"), LATER, None, None).expect("policy");
    let custom = sha256
        .signed_url_custom(&format!("{ASSET}/a.m3u8"), &policy)
        .expect("signed");
    verify_url(&custom, NOW).expect("accepted");

    // The same signature read as SHA-1, or as an unknown algorithm, is refused.
    let as_sha1 = canned.replace("&Hash-Algorithm=SHA256", "");
    assert_eq!(verify_url(&as_sha1, NOW), Err(Denied::BadSignature));
    let explicit_sha1 = with_param(&canned, "Hash-Algorithm", "SHA1");
    assert_eq!(verify_url(&explicit_sha1, NOW), Err(Denied::BadSignature));
    let unknown = with_param(&canned, "Hash-Algorithm", "MD5");
    assert_eq!(
        verify_url(&unknown, NOW),
        Err(Denied::Malformed("unknown Hash-Algorithm"))
    );
    // And a SHA-1 signature does not pass as SHA-256.
    let sha1 = signer_a()
        .signed_url_canned(&format!("{ASSET}/master.m3u8"), LATER)
        .expect("signed");
    let claimed_sha256 = format!("{sha1}&Hash-Algorithm=SHA256");
    assert_eq!(verify_url(&claimed_sha256, NOW), Err(Denied::BadSignature));
}

#[test]
fn custom_cookies_round_trip() {
    let policy = Policy::custom(&format!("{ASSET}/*"), LATER, None, None).expect("policy");
    let cookies = signer_a().signed_cookies(&policy).expect("signed");
    let names: Vec<&str> = cookies.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id"
        ]
    );
    let grant = verify_cookies(&format!("{ASSET}/v1/seg-3.m4s"), &cookies, NOW).expect("accepted");
    assert_eq!(grant.source(), SignatureSource::Cookies);
    assert!(grant.has_wildcard());
    assert_eq!(
        verify_cookies("https://cdn.example.com/play/asset-2/a.m3u8", &cookies, NOW),
        Err(Denied::ResourceMismatch)
    );
    assert_eq!(
        verify_cookies(&format!("{ASSET}/a.m3u8"), &cookies, LATER),
        Err(Denied::Expired {
            expires: LATER,
            now: LATER
        })
    );
}

#[test]
fn canned_and_sha256_cookies_round_trip() {
    let url = format!("{ASSET}/download.mp4");
    let cookies = signer_b()
        .signed_cookies_canned(&url, LATER)
        .expect("signed");
    assert_eq!(cookies[0], ("CloudFront-Expires", LATER.to_string()));
    let grant = verify_cookies(&url, &cookies, NOW).expect("accepted");
    assert_eq!(grant.kind(), PolicyKind::Canned);
    assert_eq!(grant.key_pair_id(), "KB");
    assert_eq!(
        verify_cookies(&format!("{ASSET}/other.mp4"), &cookies, NOW),
        Err(Denied::BadSignature)
    );

    let sha256 = signer("KB", B_PRIVATE, HashAlgorithm::Sha256);
    let policy = Policy::custom(&format!("{ASSET}/*"), LATER, None, None).expect("policy");
    let cookies = sha256.signed_cookies(&policy).expect("signed");
    assert_eq!(
        cookies.last(),
        Some(&("CloudFront-Hash-Algorithm", "SHA256".to_owned()))
    );
    let grant = verify_cookies(&url, &cookies, NOW).expect("accepted");
    assert_eq!(grant.hash_algorithm(), HashAlgorithm::Sha256);
}

#[test]
fn query_wins_over_cookies() {
    let policy = Policy::custom(&format!("{ASSET}/*"), LATER, None, None).expect("policy");
    let good_cookies = signer_a().signed_cookies(&policy).expect("signed");
    let url = format!("{ASSET}/a.m3u8");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");
    let tampered = with_param(&signed, "Signature", &flipped_signature(&signed));
    assert_eq!(
        verify_cookies(&tampered, &good_cookies, NOW),
        Err(Denied::BadSignature)
    );
    let grant = verify_cookies(&signed, &good_cookies, NOW).expect("accepted");
    assert_eq!(grant.source(), SignatureSource::Query);
    assert_eq!(grant.kind(), PolicyKind::Canned);
}

#[test]
fn two_keys_in_the_group() {
    let url = format!("{ASSET}/master.m3u8");
    let by_a = signer_a().signed_url_canned(&url, LATER).expect("signed");
    let by_b = signer_b().signed_url_canned(&url, LATER).expect("signed");
    assert_eq!(
        verify_url(&by_a, NOW).expect("A accepted").key_pair_id(),
        "KA"
    );
    assert_eq!(
        verify_url(&by_b, NOW).expect("B accepted").key_pair_id(),
        "KB"
    );

    // B's signature under A's id: the key that is tried is A's, which refuses it.
    let misattributed = with_param(&by_b, "Key-Pair-Id", "KA");
    assert_eq!(verify_url(&misattributed, NOW), Err(Denied::BadSignature));

    // Rotation: once A is removed, its URLs stop working and B's keep working.
    let mut rotated = key_group();
    assert!(rotated.remove("KA"));
    let request = |url: &str| SignedRequest::from_signed_url(url, None, None, NOW).expect("parses");
    assert_eq!(
        rotated.verify(&request(&by_a)),
        Err(Denied::UnknownKeyPairId)
    );
    assert!(rotated.verify(&request(&by_b)).is_ok());
    assert_eq!(rotated.key_pair_ids().collect::<Vec<_>>(), ["KB"]);
}

#[test]
fn tampering_is_refused_with_its_reason() {
    let url = format!("{ASSET}/master.m3u8");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");

    let other_path = signed.replace("/master.m3u8", "/master2.m3u8");
    assert_eq!(verify_url(&other_path, NOW), Err(Denied::BadSignature));

    let added_query = signed.replace("master.m3u8?", "master.m3u8?debug=1&");
    assert_eq!(verify_url(&added_query, NOW), Err(Denied::BadSignature));

    let longer = with_param(&signed, "Expires", &(LATER + 1).to_string());
    assert_eq!(verify_url(&longer, NOW), Err(Denied::BadSignature));

    let bad_signature = with_param(&signed, "Signature", &flipped_signature(&signed));
    assert_eq!(verify_url(&bad_signature, NOW), Err(Denied::BadSignature));

    let unknown_key = with_param(&signed, "Key-Pair-Id", "KZ");
    assert_eq!(verify_url(&unknown_key, NOW), Err(Denied::UnknownKeyPairId));

    let garbled = with_param(&signed, "Signature", "not*base64");
    assert!(matches!(
        verify_url(&garbled, NOW),
        Err(Denied::Malformed(_))
    ));

    let short = with_param(&signed, "Signature", "AAAA");
    assert_eq!(verify_url(&short, NOW), Err(Denied::BadSignature));

    let policy = Policy::custom(&format!("{ASSET}/*"), LATER, None, None).expect("policy");
    let custom = signer_a().signed_url_custom(&url, &policy).expect("signed");
    let wider = Policy::custom("https://cdn.example.com/*", LATER, None, None).expect("policy");
    let swapped = with_param(
        &custom,
        "Policy",
        &cloudfront_base64_encode(wider.to_json().as_bytes()),
    );
    assert_eq!(verify_url(&swapped, NOW), Err(Denied::BadSignature));
    let garbled_policy = with_param(&custom, "Policy", "e30");
    assert_eq!(verify_url(&garbled_policy, NOW), Err(Denied::BadSignature));
}

#[test]
fn incomplete_or_ambiguous_signing_values_are_malformed() {
    let url = format!("{ASSET}/master.m3u8");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");
    let without = |name: &str| {
        let (base, query) = signed.split_once('?').expect("query");
        let query: Vec<&str> = query.split('&').filter(|p| !p.starts_with(name)).collect();
        format!("{base}?{}", query.join("&"))
    };
    assert_eq!(
        verify_url(&without("Signature="), NOW),
        Err(Denied::Malformed("missing Signature"))
    );
    assert_eq!(
        verify_url(&without("Key-Pair-Id="), NOW),
        Err(Denied::Malformed("missing Key-Pair-Id"))
    );
    assert_eq!(
        verify_url(&without("Expires="), NOW),
        Err(Denied::Malformed("missing Expires or Policy"))
    );
    assert_eq!(
        verify_url(&format!("{signed}&Policy=e30"), NOW),
        Err(Denied::Malformed("both Expires and Policy"))
    );
    assert_eq!(
        verify_url(&format!("{signed}&Expires=1"), NOW),
        Err(Denied::Malformed("signing parameter given more than once"))
    );
    assert_eq!(
        verify_url(&with_param(&signed, "Expires", &format!("0{LATER}")), NOW),
        Err(Denied::Malformed("Expires is not a decimal epoch time"))
    );
    assert_eq!(verify_url(&url, NOW), Err(Denied::NoSignature));
    let dotted = signed.replace("/play/asset-1/", "/play/asset-1/../asset-1/");
    assert_eq!(
        verify_url(&dotted, NOW),
        Err(Denied::Malformed("URL path has a . or .. segment"))
    );
}

#[test]
fn time_conditions() {
    let url = format!("{ASSET}/master.m3u8");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");
    assert!(verify_url(&signed, LATER - 1).is_ok());
    assert_eq!(
        verify_url(&signed, LATER),
        Err(Denied::Expired {
            expires: LATER,
            now: LATER
        })
    );

    let not_before = NOW + 60;
    let policy =
        Policy::custom(&format!("{ASSET}/*"), LATER, Some(not_before), None).expect("policy");
    let signed = signer_a().signed_url_custom(&url, &policy).expect("signed");
    assert_eq!(
        verify_url(&signed, NOW),
        Err(Denied::NotYetValid {
            not_before,
            now: NOW
        })
    );
    assert!(verify_url(&signed, not_before).is_ok());
}

#[test]
fn ip_conditions() {
    let url = format!("{ASSET}/master.m3u8");
    let v4 =
        Policy::custom(&format!("{ASSET}/*"), LATER, None, Some("192.0.2.0/24")).expect("policy");
    let signed = signer_a().signed_url_custom(&url, &v4).expect("signed");
    assert!(verify_url_from(&signed, Some(ip("192.0.2.77")), NOW).is_ok());
    assert!(verify_url_from(&signed, Some(ip("::ffff:192.0.2.77")), NOW).is_ok());
    assert_eq!(
        verify_url_from(&signed, Some(ip("198.51.100.1")), NOW),
        Err(Denied::IpNotAllowed)
    );
    assert_eq!(
        verify_url_from(&signed, None, NOW),
        Err(Denied::IpNotAllowed)
    );

    let v6 = Policy::custom(&format!("{ASSET}/*"), LATER, None, Some("2001:db8:1::/48"))
        .expect("policy");
    let signed = signer_a().signed_url_custom(&url, &v6).expect("signed");
    assert!(verify_url_from(&signed, Some(ip("2001:db8:1:2::3")), NOW).is_ok());
    assert_eq!(
        verify_url_from(&signed, Some(ip("2001:db8:2::3")), NOW),
        Err(Denied::IpNotAllowed)
    );
    assert_eq!(
        verify_url_from(&signed, Some(ip("192.0.2.77")), NOW),
        Err(Denied::IpNotAllowed)
    );
}

#[test]
fn other_query_parameters_survive_around_the_signature() {
    let url = format!("{ASSET}/master.m3u8?b=2&a=%41");
    let signed = signer_a().signed_url_canned(&url, LATER).expect("signed");
    let request =
        SignedRequest::from_signed_url(&format!("{signed}&c=3"), None, None, NOW).expect("parses");
    assert_eq!(request.url, format!("{url}&c=3"));
    // The added parameter is part of the resource, so the canned signature no longer fits.
    assert_eq!(key_group().verify(&request), Err(Denied::BadSignature));

    let (_, query) = signed.split_once('?').expect("query");
    assert_eq!(strip_signing_params(query), "b=2&a=%41");
    let request = SignedRequest::from_http(
        &format!("{ASSET}/master.m3u8"),
        Some(query),
        None,
        None,
        NOW,
    )
    .expect("parses");
    assert_eq!(request.url, url);
    assert!(key_group().verify(&request).is_ok());
}

#[test]
fn signer_refuses_urls_it_cannot_sign_usefully() {
    let signer = signer_a();
    assert_eq!(
        signer.signed_url_canned(&format!("{ASSET}/a.m3u8#t=5"), LATER),
        Err(SignError::UrlHasFragment)
    );
    let signed = signer
        .signed_url_canned(&format!("{ASSET}/a.m3u8"), LATER)
        .expect("signed");
    assert_eq!(
        signer.signed_url_canned(&signed, LATER),
        Err(SignError::UrlHasSigningParams)
    );
    let huge = Policy::custom(
        &format!("{ASSET}/{}", "a".repeat(MAX_POLICY_BYTES)),
        LATER,
        None,
        None,
    )
    .expect("policy");
    assert!(matches!(
        signer.signed_cookies(&huge),
        Err(SignError::PolicyTooLarge(_))
    ));
    // Found by fuzzing: a policy read within the limit can be written longer (a DEL
    // character written as an escape), and then its signature is refused, not made.
    let resource = format!("{ASSET}/{}", "\u{7f}".repeat(MAX_POLICY_BYTES / 2));
    let text = format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{LATER}}}}}}}]}}"#
    );
    assert!(text.len() <= MAX_POLICY_BYTES);
    let escaped = Policy::from_json(&text).expect("reads within the limit");
    assert!(escaped.to_json().len() > MAX_POLICY_BYTES);
    assert!(matches!(
        signer.sign_policy(&escaped),
        Err(SignError::PolicyTooLarge(_))
    ));
    assert!(!format!("{signer:?}").contains("PRIVATE"));
}

#[test]
fn signer_and_key_group_refuse_bad_ids() {
    let key = private_key_from_pem(A_PRIVATE).expect("parses");
    assert_eq!(
        UrlSigner::new("K A", key, HashAlgorithm::Sha1).err(),
        Some(SigningKeyError::InvalidKeyPairId)
    );
    let mut keys = TrustedKeys::new();
    assert_eq!(
        keys.insert_pem("K&A", A_PUBLIC),
        Err(SigningKeyError::InvalidKeyPairId)
    );
    assert!(keys.is_empty());
}
