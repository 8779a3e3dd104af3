//! Tests of the local Garage cluster the S3 tests run against (the cluster itself is in
//! `garage/cluster.rs`, which `benches/s3_store.rs` shares): the bucket client against
//! it, and a node killed and started again. `cargo test --test it garage::` runs them.

mod cluster;

pub use cluster::*;

use bytes::Bytes;
use qopy::s3::{Bucket, S3Error};
use std::time::Instant;

fn random_bytes(n: usize) -> Bytes {
    let mut b = vec![0u8; n];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
    Bytes::from(b)
}

/// Objects written through node 0 are read, listed, read in part and deleted through the
/// bucket client, and are the same bytes through another node; a wrong secret is refused.
#[tokio::test]
async fn put_get_list_delete() {
    let started = Instant::now();
    let c = GarageCluster::launch().await;
    eprintln!(
        "a three-node Garage cluster started in {:?}",
        started.elapsed()
    );
    let b = c.bucket_at(0, "t");
    let a = random_bytes(100_000);
    let other = random_bytes(10);
    b.put("dir/a", a.clone()).await.unwrap();
    b.put("dir/b", Bytes::from_static(b"bee")).await.unwrap();
    b.put("elsewhere/c", other.clone()).await.unwrap();

    assert_eq!(b.get("dir/a").await.unwrap(), a);
    assert_eq!(b.get_range("dir/a", 10..20).await.unwrap(), a.slice(10..20));
    assert_eq!(c.bucket_at(1, "t").get("dir/a").await.unwrap(), a);
    assert_eq!(c.bucket_at(2, "t").get("elsewhere/c").await.unwrap(), other);

    let mut listed: Vec<(String, u64)> = b
        .list("dir")
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.size))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![("a".to_string(), 100_000), ("b".to_string(), 3)]
    );

    b.delete("dir/a").await.unwrap();
    assert!(matches!(b.get("dir/a").await, Err(S3Error::NotFound)));
    let names: Vec<String> = b
        .list("dir")
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, vec!["b".to_string()]);
    // Deleting what is gone is not an error.
    b.delete("dir/a").await.unwrap();

    let mut wrong = c.bucket_config(0);
    wrong.secret = random_hex::<32>();
    let wrong = Bucket::open(&wrong).unwrap();
    assert!(wrong.get("t/dir/b").await.is_err());
}

/// With node 2 killed, a 4 MiB object is still written and read (two of three copies are
/// a quorum); after node 2 is started again it takes part: with node 0 killed instead, the
/// object still reads through node 2, which needs node 2's answer for a quorum.
///
/// The write right after the kill sometimes takes about 8 s instead of a fraction of one:
/// Garage first asks the two nodes it prefers, and when the dead one is among them it waits
/// until its ping finds the connection gone.
#[tokio::test]
async fn one_node_down() {
    let mut c = GarageCluster::launch().await;
    let big = random_bytes(4 * 1024 * 1024);
    c.stop(2);
    assert!(!listening(c.s3_port(2)), "node 2 still listens");

    let b0 = c.bucket_at(0, "down");
    let put = Instant::now();
    b0.put("big", big.clone()).await.unwrap();
    eprintln!("4 MiB written with node 2 down in {:?}", put.elapsed());
    assert_eq!(b0.get("big").await.unwrap(), big);
    assert_eq!(c.bucket_at(1, "down").get("big").await.unwrap(), big);

    let started = Instant::now();
    c.start(2).await;
    eprintln!("node 2 whole again after {:?}", started.elapsed());
    for i in 0..NODES {
        let h = c.health(i).await.unwrap();
        assert!(sees_running(&h, NODES), "node {i}: {h}");
    }

    c.stop(0);
    let b2 = c.bucket_at(2, "down");
    assert_eq!(b2.get("big").await.unwrap(), big);
    b2.put("after", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(c.bucket_at(1, "down").get("after").await.unwrap(), "x");
}
