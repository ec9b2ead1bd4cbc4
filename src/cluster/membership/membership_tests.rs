//! Unit tests of the membership view: beats keep replicas live, pauses heard are kept, and
//! tenants are shared out only while the replicas agree.

use super::*;

#[tokio::test(start_paused = true)]
async fn beats_keep_a_replica_live_silence_or_leaving_removes_it() {
    let m = Membership::new("a", Duration::from_secs(1));
    let live = m.watch();
    let beat = |r: &str, leaving| Beat {
        replica: r.into(),
        leaving,
        pauses: Vec::new(),
        tenants: None,
    };
    m.heard(beat("b", false), Instant::now());
    m.heard(beat("c", false), Instant::now());
    assert_eq!(live.borrow().len(), 3);
    tokio::time::advance(Duration::from_secs(2)).await;
    m.heard(beat("b", false), Instant::now());
    tokio::time::advance(Duration::from_millis(1500)).await;
    m.refresh(Instant::now());
    let ids: Vec<String> = live.borrow().iter().cloned().collect();
    assert_eq!(ids, ["a", "b"], "c missed three beats");
    m.heard(beat("b", true), Instant::now());
    let ids: Vec<String> = live.borrow().iter().cloned().collect();
    assert_eq!(ids, ["a"], "b left");
    m.heard(beat("a", true), Instant::now());
    assert_eq!(live.borrow().len(), 1, "never without itself");
}

#[test]
fn pauses_heard_in_beats_are_kept_until_they_end() {
    let m = Membership::new("a", Duration::from_secs(1));
    let note = PauseNote::lasting("acme", TargetKind::Genesys, Duration::from_secs(30));
    let beat = Beat {
        replica: "b".into(),
        leaving: false,
        pauses: vec![note],
        tenants: None,
    };
    m.heard(beat, Instant::now());
    let left = m.heard_pause("acme", TargetKind::Genesys).unwrap();
    assert!(left > Duration::from_secs(28) && left <= Duration::from_secs(30));
    assert_eq!(m.heard_pause("acme", TargetKind::Servicenow), None);
    let over = PauseNote::lasting("x", TargetKind::Genesys, Duration::ZERO);
    assert_eq!(over.remaining(), None);
    let wire = serde_json::to_string(&Beat {
        replica: "b".into(),
        leaving: false,
        pauses: Vec::new(),
        tenants: None,
    })
    .unwrap();
    let old: Beat = serde_json::from_str(r#"{"replica":"b","leaving":false}"#).unwrap();
    assert!(old.pauses.is_empty() && wire.contains("pauses"));
}

#[tokio::test(start_paused = true)]
async fn tenants_are_shared_out_only_while_the_replicas_agree_or_after_the_patience() {
    let m = Membership::new("a", Duration::from_secs(1));
    let agreed = m.agreement();
    m.set_tenant_digest(7);
    let beat = |digest| Beat {
        replica: "b".into(),
        leaving: false,
        pauses: Vec::new(),
        tenants: digest,
    };
    m.heard(beat(None), Instant::now());
    assert!(
        *agreed.borrow(),
        "an older build that says nothing does not hold anyone back"
    );
    m.heard(beat(Some(7)), Instant::now());
    assert!(*agreed.borrow());
    m.heard(beat(Some(8)), Instant::now());
    assert!(!*agreed.borrow(), "b knows another tenant set");
    for _ in 0..59 {
        tokio::time::advance(Duration::from_secs(1)).await;
        m.heard(beat(Some(8)), Instant::now());
    }
    assert!(!*agreed.borrow(), "still within the patience");
    tokio::time::advance(Duration::from_secs(1)).await;
    m.heard(beat(Some(8)), Instant::now());
    assert!(
        *agreed.borrow(),
        "a lasting difference no longer holds the others back"
    );
    m.set_tenant_digest(8);
    assert!(*agreed.borrow());
    m.set_tenant_digest(9);
    assert!(!*agreed.borrow(), "a new difference waits afresh");
    m.heard(
        Beat {
            leaving: true,
            ..beat(Some(8))
        },
        Instant::now(),
    );
    assert!(*agreed.borrow(), "b left");
}
