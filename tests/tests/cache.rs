//! The rewrite-plan cache: a second process takes its sites from the cache, finds exactly the
//! same ones, and a damaged entry is recomputed, never trusted.

use zpoline_tests::*;

fn rewrote_line(o: &Outcome) -> String {
    o.stderr
        .lines()
        .find(|l| l.starts_with("zpoline: rewrote "))
        .unwrap_or_else(|| panic!("no 'rewrote' line\n{}", o.report()))
        .to_string()
}

/// "569 sites" and "5 from the cache" out of the debug line.
fn figures(line: &str) -> (String, String) {
    let w: Vec<&str> = line.split_whitespace().collect();
    let sites = w[2].to_string();
    let i = w.iter().position(|x| *x == "from").unwrap();
    (sites, w[i - 1].trim_start_matches('(').to_string())
}

#[test]
fn second_run_uses_the_cache_and_agrees() {
    require_page_zero();
    let dir = Scratch::new("cache");
    let run = || {
        Cmd::new("/bin/ls")
            .arg("/")
            .env("ZPOLINE_DEBUG", "1")
            .env("ZPOLINE_CACHE_DIR", dir.path())
            .run(&Mode::Zpoline)
    };
    let first = run();
    first.assert_success("ls / with an empty cache");
    let (sites1, cached1) = figures(&rewrote_line(&first));
    assert_eq!(cached1, "0", "{}", first.report());
    let second = run();
    second.assert_success("ls / with a filled cache");
    let (sites2, cached2) = figures(&rewrote_line(&second));
    assert_eq!(
        sites1,
        sites2,
        "the cache gave other sites\n{}",
        second.report()
    );
    assert_ne!(
        cached2,
        "0",
        "nothing came from the cache\n{}",
        second.report()
    );
    assert_eq!(first.stdout, second.stdout);

    // Damage every entry: the next run must recompute (and still agree).
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        std::fs::write(&p, "zpoline-sites 1\nS 0\nS 10\n").unwrap();
    }
    let third = run();
    third.assert_success("ls / with damaged cache entries");
    let (sites3, cached3) = figures(&rewrote_line(&third));
    assert_eq!(sites1, sites3, "{}", third.report());
    assert_eq!(
        cached3,
        "0",
        "a damaged entry was trusted\n{}",
        third.report()
    );
    assert_eq!(first.stdout, third.stdout);
}

#[test]
fn cache_can_be_turned_off() {
    require_page_zero();
    let dir = Scratch::new("cache-off");
    for _ in 0..2 {
        let o = Cmd::new("/bin/true")
            .env("ZPOLINE_DEBUG", "1")
            .env("ZPOLINE_CACHE", "0")
            .env("ZPOLINE_CACHE_DIR", dir.path())
            .run(&Mode::Zpoline);
        let (_, cached) = figures(&rewrote_line(&o));
        assert_eq!(cached, "0", "{}", o.report());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
