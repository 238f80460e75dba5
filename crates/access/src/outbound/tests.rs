use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn class_of(text: &str) -> Option<AddressClass> {
    inward(ip(text)).map(|i| i.class)
}

fn policy(entries: &[&str]) -> OutboundPolicy {
    OutboundPolicy::new(entries).unwrap()
}

#[test]
fn every_inward_ipv4_range_is_refused_at_both_ends() {
    use AddressClass::*;
    let cases = [
        ("0.0.0.0", Unspecified),
        ("0.255.255.255", Unspecified),
        ("127.0.0.1", Loopback),
        ("127.255.255.254", Loopback),
        ("10.0.0.0", Private),
        ("10.255.255.255", Private),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.168.0.1", Private),
        ("192.168.255.255", Private),
        ("100.64.0.1", SharedAddressSpace),
        ("100.127.255.255", SharedAddressSpace),
        ("169.254.169.254", LinkLocal),
        ("169.254.0.0", LinkLocal),
        ("192.0.0.8", Reserved),
        ("198.18.0.1", Reserved),
        ("198.19.255.255", Reserved),
        ("224.0.0.1", Multicast),
        ("239.255.255.255", Multicast),
        ("255.255.255.255", Broadcast),
        ("240.0.0.1", Reserved),
        ("255.255.255.254", Reserved),
    ];
    for (address, class) in cases {
        assert_eq!(class_of(address), Some(class), "{address}");
    }
}

#[test]
fn public_addresses_next_to_the_ranges_pass() {
    for address in [
        "1.1.1.1",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "126.255.255.255",
        "128.0.0.0",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert_eq!(inward(ip(address)), None, "{address}");
    }
}

#[test]
fn every_inward_ipv6_range_is_refused() {
    use AddressClass::*;
    let cases = [
        ("::", Unspecified),
        ("::1", Loopback),
        ("fe80::1", LinkLocal),
        ("febf:ffff::1", LinkLocal),
        ("fec0::1", SiteLocal),
        ("fc00::1", UniqueLocal),
        ("fd12:3456:789a::1", UniqueLocal),
        ("ff02::1", Multicast),
        ("ff0e::1", Multicast),
        ("100::1", Reserved),
        ("64:ff9b:1::a00:1", Private),
    ];
    for (address, class) in cases {
        assert_eq!(class_of(address), Some(class), "{address}");
    }
}

#[test]
fn ipv6_forms_of_inward_ipv4_addresses_are_judged_by_the_ipv4_address() {
    use AddressClass::*;
    let cases = [
        ("::ffff:127.0.0.1", Loopback, Embedding::Ipv4Mapped),
        ("::ffff:7f00:1", Loopback, Embedding::Ipv4Mapped),
        ("::ffff:169.254.169.254", LinkLocal, Embedding::Ipv4Mapped),
        ("::ffff:10.1.2.3", Private, Embedding::Ipv4Mapped),
        ("::ffff:172.16.0.1", Private, Embedding::Ipv4Mapped),
        ("::ffff:192.168.1.1", Private, Embedding::Ipv4Mapped),
        (
            "::ffff:100.64.0.1",
            SharedAddressSpace,
            Embedding::Ipv4Mapped,
        ),
        ("::ffff:0.0.0.0", Unspecified, Embedding::Ipv4Mapped),
        ("::ffff:255.255.255.255", Broadcast, Embedding::Ipv4Mapped),
        ("::ffff:224.0.0.1", Multicast, Embedding::Ipv4Mapped),
        ("::127.0.0.1", Loopback, Embedding::Ipv4Compatible),
        ("::169.254.169.254", LinkLocal, Embedding::Ipv4Compatible),
        ("64:ff9b::127.0.0.1", Loopback, Embedding::Nat64),
        ("64:ff9b::a9fe:a9fe", LinkLocal, Embedding::Nat64),
        ("2002:7f00:1::", Loopback, Embedding::SixToFour),
        ("2002:c0a8:101::1", Private, Embedding::SixToFour),
    ];
    for (address, class, embedding) in cases {
        let found = inward(ip(address)).unwrap_or_else(|| panic!("{address} passed"));
        assert_eq!(found.class, class, "{address}");
        assert_eq!(
            found.embedding.map(|(e, _)| e),
            Some(embedding),
            "{address}"
        );
    }
}

#[test]
fn urls_are_checked_for_scheme_and_written_addresses() {
    let none = OutboundPolicy::default();
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com:70/_x",
        "dict://example.com:11211/",
        "ws://example.com/",
        "javascript:alert(1)",
    ] {
        assert!(
            matches!(none.check_url(url), Err(Refused::Scheme(_))),
            "{url}: {:?}",
            none.check_url(url)
        );
    }
    assert!(matches!(
        none.check_url("not a url"),
        Err(Refused::InvalidUrl(_))
    ));
    let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
    assert_eq!(none.check_url(&long), Err(Refused::TooLong));

    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://10.0.0.1/",
        "http://0.0.0.0:8080/",
        // What WHATWG URL parsing reads as IPv4 is an address too.
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "https://169.254.169.254./",
    ] {
        assert!(
            matches!(none.check_url(url), Err(Refused::Address { .. })),
            "{url}: {:?}",
            none.check_url(url)
        );
    }
    for url in [
        "https://example.com/hook",
        "http://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "http://localhost:9/",
        "http://internal.example/",
    ] {
        assert!(none.check_url(url).is_ok(), "{url}");
    }
}

#[test]
fn refusals_name_the_reason() {
    let err = OutboundPolicy::default()
        .check_url("http://169.254.169.254/latest/meta-data/")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "169.254.169.254 is link-local (169.254.0.0/16), which is refused unless [outbound] allow admits it"
    );
    let err = OutboundPolicy::default()
        .check_url("http://[::ffff:127.0.0.1]/")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("loopback (127.0.0.0/8, as the IPv4-mapped form of 127.0.0.1)"),
        "{err}"
    );
    let err = OutboundPolicy::default()
        .check_url("gopher://example.com/")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "scheme \"gopher\" is not allowed: only http:// and https:// URLs are"
    );
}

#[test]
fn the_allow_list_admits_ranges_sockets_and_hosts() {
    let p = policy(&[
        "127.0.0.1/32",
        "10.1.0.0/16",
        "fd00::/8",
        "::1",
        "192.168.1.5:8443",
        "[fe80::1]:8080",
        "speke.internal:8443",
        "Hooks.Internal.",
    ]);
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::ffff:127.0.0.1]:9/",
        "http://10.1.200.3/",
        "http://[fd12::1]/",
        "http://[::1]:1234/",
        "https://192.168.1.5:8443/speke",
        "http://[fe80::1]:8080/",
        "https://speke.internal:8443/v2",
        "http://hooks.internal/x",
        "http://HOOKS.internal.:81/x",
    ] {
        assert!(p.check_url(url).is_ok(), "{url}: {:?}", p.check_url(url));
    }
    for url in [
        "http://127.0.0.2/",
        "http://10.2.0.1/",
        "https://192.168.1.5/",
        "http://192.168.1.6:8443/",
        "http://[fe80::1]:8081/",
        "http://169.254.169.254/",
    ] {
        assert!(
            matches!(p.check_url(url), Err(Refused::Address { .. })),
            "{url}"
        );
    }
    // A name admitted on one port is refused on the others, before any look-up.
    assert_eq!(
        p.check_url("http://speke.internal:22/"),
        Err(Refused::Port {
            host: "speke.internal".into(),
            port: 22,
            allowed: vec![8443],
        })
    );
    assert_eq!(
        p.check_url("https://speke.internal/")
            .unwrap_err()
            .to_string(),
        "speke.internal is admitted by [outbound] allow on port 8443 only, not 443"
    );
}

#[test]
fn resolved_addresses_are_checked_against_ranges_and_named_hosts() {
    let none = OutboundPolicy::default();
    assert_eq!(
        none.check_resolved("localhost", ip("127.0.0.1"))
            .map_err(|i| i.class),
        Err(AddressClass::Loopback)
    );
    assert!(none
        .check_resolved("metadata.google.internal", ip("169.254.169.254"))
        .is_err());
    assert!(none.check_resolved("hooks", ip("::ffff:10.0.0.1")).is_err());
    assert!(none
        .check_resolved("example.com", ip("93.184.215.14"))
        .is_ok());

    let p = policy(&["127.0.0.0/8", "speke.internal:8443", "hooks.internal"]);
    assert!(p.check_resolved("localhost", ip("127.0.0.1")).is_ok());
    assert!(p.check_resolved("localhost", ip("::1")).is_err());
    assert!(p.check_resolved("speke.internal", ip("10.9.8.7")).is_ok());
    assert!(p.check_resolved("SPEKE.internal.", ip("10.9.8.7")).is_ok());
    assert!(p.check_resolved("hooks.internal", ip("fd00::5")).is_ok());
    assert!(p.check_resolved("other.internal", ip("10.9.8.7")).is_err());
}

#[test]
fn allow_entries_are_read_once_into_their_kinds() {
    let p = policy(&[
        " 10.0.0.0/8 ",
        "127.0.0.1",
        "[::1]",
        "127.0.0.1:8443",
        "[::1]:9000",
        "speke.internal:8443",
        "localhost",
    ]);
    let shown: Vec<String> = p.allow().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "10.0.0.0/8",
            "127.0.0.1/32",
            "::1/128",
            "127.0.0.1:8443",
            "[::1]:9000",
            "speke.internal:8443",
            "localhost",
        ]
    );
    for bad in [
        "",
        "10.0.0.0/33",
        "10.0.0.0/x",
        "host:0",
        "host:65536",
        "host:+80",
        "host:port",
        "127.1",
        "bad host",
        "*.internal",
        "127.0.0.1:0",
        "https://speke.internal/",
    ] {
        let err = OutboundPolicy::new([bad]).unwrap_err();
        assert!(err.to_string().starts_with("outbound.allow entry"), "{err}");
    }
    assert!(OutboundPolicy::new(["x".repeat(400)]).is_err());
}

#[test]
fn a_name_that_is_an_address_without_its_trailing_dots_is_refused() {
    // Found by fuzzing (fuzz/ target outbound): "126.." was read as the host name "126",
    // which displays as, and is read again as, an address.
    for bad in ["126..", "1.2.3.4..", "0x7f.."] {
        assert!(bad.parse::<AllowEntry>().is_err(), "{bad}");
    }
    let input = include_bytes!("../../tests/data/fuzz/outbound-name-with-trailing-dots");
    let text = String::from_utf8_lossy(input);
    for line in text.lines() {
        if let Ok(entry) = line.parse::<AllowEntry>() {
            let shown = entry.to_string();
            assert_eq!(shown.parse::<AllowEntry>(), Ok(entry), "{line:?}");
        }
    }
    // A fully qualified name keeps reading as the name.
    assert_eq!(
        "speke.internal.".parse::<AllowEntry>(),
        Ok(AllowEntry::Host {
            name: "speke.internal".into(),
            port: None
        })
    );
}
