//! `sqlite-count DB N [SQL]`: opens DB N times, each time running one statement on the new
//! connection (so SQLite parses the schema; by default a read of `sqlite_schema`) and closing
//! it. Run under callgrind, the instructions divided by N are one connection's cost with that
//! schema and statement.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok()))
    else {
        eprintln!("usage: sqlite-count DB N [SQL]");
        std::process::exit(2);
    };
    let sql = args.get(3).map_or(
        "SELECT count(*) FROM sqlite_schema WHERE rowid = 1",
        String::as_str,
    );
    for _ in 0..n {
        let connection = rusqlite::Connection::open(path).expect("open the database");
        let _: i64 = connection
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    println!("sqlite {}", rusqlite::version());
}
