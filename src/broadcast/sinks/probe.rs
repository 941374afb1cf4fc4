//! Whether an account's endpoint takes a connection at all (a closed port, an unknown
//! host), asked before a job exists: a `base_url` on the wrong port is refused at once,
//! not found after a job has retried every request. A TCP connection to the URL's host
//! and port, given [`PATIENCE`]; nothing is sent.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connection may take before the endpoint counts as not answering.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// Why nothing answers at `url` (http, https or smtp), if nothing does. The answer names
/// the host and port only, never the rest of the URL (it may hold a credential).
pub fn unanswered(url: &str) -> Option<String> {
    let uri = ureq::http::Uri::try_from(url).ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = match (uri.port_u16(), uri.scheme_str()) {
        (Some(port), _) => port,
        (None, Some("https")) => 443,
        (None, Some("http")) => 80,
        (None, Some("smtp")) => 25,
        (None, _) => return None,
    };
    let place = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addresses: Vec<_> = match (host, port).to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(e) => return Some(format!("the host of {place} is not found ({e})")),
    };
    let mut why = format!("the host of {place} has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, PATIENCE) {
            Ok(_) => return None,
            Err(e) => why = format!("nothing answers at {place} ({e})"),
        }
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::unanswered;

    #[test]
    fn a_listening_port_answers_and_a_closed_one_does_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let open = listener.local_addr().expect("address");
        assert_eq!(unanswered(&format!("http://user:PW@{open}/v2")), None);
        drop(listener);
        let closed = unanswered(&format!("http://user:PW@{open}/v2")).expect("closed");
        assert!(
            closed.contains(&format!("nothing answers at {open}")),
            "{closed}"
        );
        assert!(
            !closed.contains("PW") && !closed.contains("/v2"),
            "{closed}"
        );
        let smtp = unanswered(&format!("smtp://{open}")).expect("closed");
        assert!(smtp.contains(&open.to_string()), "{smtp}");
    }
}
