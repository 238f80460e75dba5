//! The outbound fence with real sockets: a receiver on loopback that counts the
//! connections it gets, and clients with and without an allow-list. What a request is
//! refused for must be the policy (the receiver sees nothing), and admitted requests must
//! arrive.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openvod_net::{
    read_limited, refusal, AddressClass, NetError, OutboundClient, OutboundPolicy, Refused,
};

/// A receiver on 127.0.0.1 answering every request with `response`; returns its port and
/// the number of connections it accepted.
fn receiver(response: impl Into<String>) -> (u16, Arc<AtomicUsize>) {
    let response = response.into();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, connections)
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

fn client(allow: &[&str]) -> OutboundClient {
    OutboundClient::builder(OutboundPolicy::new(allow).unwrap())
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn loopback_is_refused_by_address_and_by_name() {
    let (port, connections) = receiver(OK);
    let fenced = client(&[]);

    let refused = fenced
        .post(&format!("http://127.0.0.1:{port}/hook"))
        .unwrap_err();
    assert!(
        matches!(refused, Refused::Address { inward, .. } if inward.class == AddressClass::Loopback)
    );
    assert!(fenced
        .post(&format!("http://[::ffff:127.0.0.1]:{port}/"))
        .is_err());

    // A name passes the URL check; what it resolves to is refused when connecting.
    let request = fenced
        .post(&format!("http://localhost:{port}/hook"))
        .expect("a host name is judged when it is resolved");
    let error = request.body("{}").send().await.unwrap_err();
    let refused = refusal(&error).unwrap_or_else(|| panic!("not a refusal: {error:?}"));
    match refused {
        Refused::Resolved { host, refused } => {
            assert_eq!(host, "localhost");
            assert!(refused
                .iter()
                .all(|(_, inward)| inward.class == AddressClass::Loopback));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        refused
            .to_string()
            .starts_with("localhost resolves only to addresses that are refused"),
        "{refused}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing connected");
}

#[tokio::test]
async fn a_name_that_resolves_inward_is_refused_at_connect_time() {
    let (port, connections) = receiver(OK);
    // As if DNS answered the metadata service, then loopback (a rebinding attack).
    let fenced = OutboundClient::builder(OutboundPolicy::default())
        .resolve_to("hooks.example.test", &[IpAddr::V4(Ipv4Addr::LOCALHOST)])
        .resolve_to("meta.example.test", &["169.254.169.254".parse().unwrap()])
        .build()
        .unwrap();
    for host in ["hooks.example.test", "meta.example.test"] {
        let error = fenced
            .post(&format!("http://{host}:{port}/"))
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(refusal(&error), Some(Refused::Resolved { host: h, .. }) if h == host),
            "{error:?}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_allow_list_lets_requests_through() {
    let (port, connections) = receiver(OK);
    for allow in [
        vec!["127.0.0.1/32".to_string()],
        vec![format!("127.0.0.1:{port}")],
    ] {
        let allowed = client(&allow.iter().map(String::as_str).collect::<Vec<_>>());
        let response = allowed
            .post(&format!("http://127.0.0.1:{port}/hook"))
            .unwrap()
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{allow:?}");
    }
    // A name admitted on its port is connected to whatever it resolves to.
    let named = OutboundClient::builder(
        OutboundPolicy::new([format!("hooks.example.test:{port}")]).unwrap(),
    )
    .resolve_to("hooks.example.test", &[IpAddr::V4(Ipv4Addr::LOCALHOST)])
    .build()
    .unwrap();
    let response = named
        .post(&format!("http://hooks.example.test:{port}/"))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(matches!(
        named.post("http://hooks.example.test:22/"),
        Err(Refused::Port { .. })
    ));
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn refused_addresses_of_a_name_are_dropped_and_the_admitted_ones_used() {
    let (port, connections) = receiver(OK);
    // 10.255.255.1 would hang until the connect timeout if it were tried.
    let fenced = OutboundClient::builder(OutboundPolicy::new(["127.0.0.1/32"]).unwrap())
        .connect_timeout(Duration::from_secs(30))
        .resolve_to(
            "mixed.example.test",
            &[
                "10.255.255.1".parse().unwrap(),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            ],
        )
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let response = fenced
        .post(&format!("http://mixed.example.test:{port}/"))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, target_connections) = receiver(OK);
    let (port, _) = receiver(format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{target}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let allowed = client(&["127.0.0.1/32"]);
    let response = allowed
        .post(&format!("http://127.0.0.1:{port}/"))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(target_connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bodies_are_read_up_to_a_bound() {
    let (port, _) =
        receiver("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789");
    let allowed = client(&["127.0.0.1/32"]);
    let url = format!("http://127.0.0.1:{port}/");
    let mut response = allowed.post(&url).unwrap().send().await.unwrap();
    assert!(matches!(
        read_limited(&mut response, 9).await,
        Err(NetError::TooLarge { limit: 9 })
    ));
    let (port, _) = receiver(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
    );
    let url = format!("http://127.0.0.1:{port}/");
    let mut response = allowed.post(&url).unwrap().send().await.unwrap();
    assert!(matches!(
        read_limited(&mut response, 9).await,
        Err(NetError::TooLarge { .. })
    ));
    let mut response = allowed.post(&url).unwrap().send().await.unwrap();
    assert_eq!(
        read_limited(&mut response, 10).await.unwrap(),
        b"0123456789"
    );
}
