//! Unit tests of the pending set, on paused time.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item(u64, Priority);

impl Pendable for Item {
    fn version(&self) -> u64 {
        self.0
    }
    fn priority(&self) -> Priority {
        self.1
    }
}

const N: Priority = Priority::Normal;
const C: Priority = Priority::Compliance;
const LINGER: Duration = Duration::from_millis(100);

fn names(taken: &[Taken<Item>]) -> Vec<(&str, u64)> {
    taken
        .iter()
        .map(|t| (t.script.as_str(), t.item.0))
        .collect()
}

fn due(set: &mut PendingSet<Item>, max: usize) -> Vec<Taken<Item>> {
    set.promote(Instant::now());
    set.take(max)
}

#[tokio::test(start_paused = true)]
async fn versions_coalesce_while_lingering_and_the_newest_goes() {
    let mut set = PendingSet::new(LINGER, Batching::EachLingers);
    let now = Instant::now();
    assert_eq!(set.offer("s", Item(1, N), now), Offered::Queued);
    assert_eq!(set.offer("s", Item(3, N), now), Offered::Queued);
    assert_eq!(set.offer("s", Item(2, N), now), Offered::Covered);
    assert!(due(&mut set, 10).is_empty(), "still lingering");
    assert_eq!(set.next_wakeup(), Some(now + LINGER));
    tokio::time::advance(LINGER).await;
    assert_eq!(names(&due(&mut set, 10)), [("s", 3)]);
}

#[tokio::test(start_paused = true)]
async fn a_version_arriving_while_one_is_on_its_way_waits_for_it() {
    let mut set = PendingSet::new(Duration::ZERO, Batching::EachLingers);
    let now = Instant::now();
    set.offer("s", Item(1, N), now);
    let taken = due(&mut set, 10);
    assert_eq!(
        set.offer("s", Item(1, N), now),
        Offered::Covered,
        "on its way"
    );
    assert_eq!(set.offer("s", Item(2, N), now), Offered::Queued);
    assert_eq!(set.offer("s", Item(5, N), now), Offered::Queued);
    assert!(due(&mut set, 10).is_empty(), "parked behind the request");
    assert!(set.finish("s", None).is_none());
    assert_eq!(names(&due(&mut set, 10)), [("s", 5)]);
    drop(taken);
    assert!(set.finish("s", None).is_none());
    assert!(set.is_empty());
}

#[tokio::test(start_paused = true)]
async fn compliance_first_then_oldest_first() {
    let mut set = PendingSet::new(Duration::ZERO, Batching::EachLingers);
    for (i, s) in ["a", "b", "c"].iter().enumerate() {
        set.offer(s, Item(1, N), Instant::now());
        tokio::time::advance(Duration::from_millis(10 * (i as u64 + 1))).await;
    }
    set.offer("late", Item(1, C), Instant::now());
    // A compliance version of a normal script raises it.
    set.offer("c", Item(2, C), Instant::now());
    assert_eq!(
        names(&due(&mut set, 10)),
        [("c", 2), ("late", 1), ("a", 1), ("b", 1)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_request_goes_without_waiting_out_the_linger() {
    let mut set = PendingSet::new(Duration::from_secs(10), Batching::FillsAt(3));
    for s in ["a", "b"] {
        set.offer(s, Item(1, N), Instant::now());
    }
    assert!(due(&mut set, 3).is_empty());
    set.offer("c", Item(1, N), Instant::now());
    assert_eq!(due(&mut set, 3).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_retry_comes_back_later_unless_a_newer_version_replaced_it() {
    let mut set = PendingSet::new(Duration::ZERO, Batching::EachLingers);
    set.offer("s", Item(1, N), Instant::now());
    let mut taken = due(&mut set, 1);
    let back = Instant::now() + Duration::from_secs(2);
    assert!(set.finish("s", Some((taken.remove(0), back))).is_none());
    assert!(due(&mut set, 1).is_empty(), "backing off");
    tokio::time::advance(Duration::from_secs(2)).await;
    let mut taken = due(&mut set, 1);
    assert_eq!(names(&taken), [("s", 1)]);

    // A newer version arrives during the retry: the old one is handed back, the new one goes.
    set.offer("s", Item(2, N), Instant::now());
    let dropped = set.finish("s", Some((taken.remove(0), back)));
    assert_eq!(dropped, Some(Item(1, N)));
    assert_eq!(names(&due(&mut set, 1)), [("s", 2)]);

    // A newer version replaces one backing off, at once.
    let mut set = PendingSet::new(LINGER, Batching::EachLingers);
    set.offer("t", Item(1, N), Instant::now());
    tokio::time::advance(LINGER).await;
    let mut taken = due(&mut set, 1);
    let far = Instant::now() + Duration::from_secs(60);
    set.finish("t", Some((taken.remove(0), far)));
    set.offer("t", Item(3, N), Instant::now());
    assert_eq!(
        names(&due(&mut set, 1)),
        [("t", 3)],
        "no backoff, no new linger"
    );
}

#[tokio::test(start_paused = true)]
async fn the_longest_waiting_can_be_taken_out_whatever_their_place() {
    let mut set = PendingSet::new(LINGER, Batching::EachLingers);
    let t0 = Instant::now();
    set.offer("a", Item(1, N), t0);
    tokio::time::advance(Duration::from_secs(1)).await;
    set.offer("b", Item(1, N), Instant::now());
    // b goes out; a newer b waits (parked behind it); c arrives later still.
    let sent = due(&mut set, 1);
    assert_eq!(names(&sent), [("a", 1)], "oldest first");
    set.finish(
        "a",
        Some((
            sent.into_iter().next().unwrap(),
            Instant::now() + LINGER * 50,
        )),
    );
    tokio::time::advance(LINGER).await;
    assert_eq!(names(&due(&mut set, 1)), [("b", 1)]);
    set.offer("b", Item(2, N), Instant::now());
    tokio::time::advance(Duration::from_secs(1)).await;
    set.offer("c", Item(1, N), Instant::now());
    assert_eq!(
        set.oldest_held_since(),
        Some(t0),
        "a, backing off, keeps its arrival"
    );
    // Everything that arrived by t0 + 1.5 s: a (backing off since t0) and b v2 (arrived at
    // t0 + 1.1 s, waiting behind b v1's request).
    let out = set.take_held_since(t0 + Duration::from_millis(1500));
    assert_eq!(names(&out), [("a", 1), ("b", 2)]);
    assert_eq!(
        set.len(),
        2,
        "b keeps its slot for the request on its way, c waits"
    );
    assert!(set.finish("b", None).is_none());
    assert_eq!(set.len(), 1);
    tokio::time::advance(LINGER).await;
    assert_eq!(names(&due(&mut set, 10)), [("c", 1)], "only c is left");
    assert_eq!(set.oldest_held_since(), None);
}
