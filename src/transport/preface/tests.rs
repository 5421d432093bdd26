use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

use super::*;

const DEADLINE: Duration = Duration::from_secs(5);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[tokio::test(start_paused = true)]
async fn a_silent_client_fails_the_read_at_the_deadline() {
    let (_client, server) = duplex(64);
    let mut conn = PrefaceDeadline::new(server, DEADLINE);
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 32];
    let err = conn.read(&mut buf).await.expect_err("timed out");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), DEADLINE);
}

#[tokio::test(start_paused = true)]
async fn a_partial_preface_is_not_enough() {
    let (mut client, server) = duplex(64);
    let mut conn = PrefaceDeadline::new(server, DEADLINE);
    client.write_all(&PREFACE[..10]).await.expect("write");
    let mut buf = [0u8; 32];
    assert_eq!(conn.read(&mut buf).await.expect("ten bytes"), 10);
    let err = conn.read(&mut buf).await.expect_err("timed out");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn once_the_preface_is_in_the_connection_may_idle() {
    let (mut client, server) = duplex(64);
    let mut conn = PrefaceDeadline::new(server, DEADLINE);
    // In two pieces, as a slow client might send it.
    client.write_all(&PREFACE[..10]).await.expect("write");
    let mut buf = [0u8; 32];
    let mut got = conn.read(&mut buf).await.expect("first piece");
    client.write_all(&PREFACE[10..]).await.expect("write");
    while got < PREFACE.len() {
        got += conn.read(&mut buf).await.expect("the rest");
    }
    // Long after the deadline, a read still waits for data and gets it.
    tokio::time::sleep(DEADLINE * 10).await;
    client.write_all(b"later").await.expect("write");
    assert_eq!(conn.read(&mut buf).await.expect("later bytes"), 5);
    // Writes pass through.
    conn.write_all(b"back").await.expect("write");
    let mut back = [0u8; 4];
    client.read_exact(&mut back).await.expect("read");
    assert_eq!(&back, b"back");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_closes_reads_as_the_end() {
    let (client, server) = duplex(64);
    let mut conn = PrefaceDeadline::new(server, DEADLINE);
    drop(client);
    let mut buf = [0u8; 32];
    assert_eq!(conn.read(&mut buf).await.expect("end of stream"), 0);
}
