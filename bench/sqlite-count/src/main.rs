//! `sqlite-count DB N`: opens DB N times, each time running one statement on the new
//! connection (so SQLite parses the schema) and closing it. Run under callgrind, the
//! instructions divided by N are one connection's cost with that schema.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok()))
    else {
        eprintln!("usage: sqlite-count DB N");
        std::process::exit(2);
    };
    for _ in 0..n {
        let connection = rusqlite::Connection::open(path).expect("open the database");
        let _: i64 = connection
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE rowid = 1",
                [],
                |row| row.get(0),
            )
            .expect("the first statement");
    }
    println!("sqlite {}", rusqlite::version());
}
