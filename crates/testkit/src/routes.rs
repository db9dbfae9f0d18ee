//! Route tables read from the routers' source, for tests that check every route obeys a rule
//! (a role check, CSRF, an audit record) without a list someone must remember to extend.

use std::path::Path;

/// The path a `.route(...)` call registers, from the text after `.route(`: a quoted literal,
/// or a `route::<area>::<NAME>` constant looked up in `crates/api/src/route.rs`, where every
/// route path is declared.
pub fn route_path(call: &str) -> String {
    if let Some(path) = call.split('"').nth(1) {
        return path.to_owned();
    }
    let name = call
        .split(',')
        .next()
        .and_then(|c| c.trim().strip_prefix("route::"))
        .expect("a path literal or a route:: constant");
    let (area, constant) = name.split_once("::").expect("route::<area>::<NAME>");
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src/route.rs"))
            .expect("crates/api/src/route.rs");
    let body = src
        .split(&format!("pub mod {area} {{"))
        .nth(1)
        .expect("the route area");
    let line = body
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(&format!("pub const {constant}: &str = "))
        })
        .expect("the route constant");
    line.split('"').nth(1).expect("a quoted path").to_owned()
}

#[cfg(test)]
mod tests {
    use super::route_path;

    #[test]
    fn a_literal_or_a_constant_gives_the_path() {
        assert_eq!(route_path(r#""/v1/x", get(h))"#), "/v1/x");
        assert_eq!(
            route_path("route::admin::PROJECTS, get(list).post(create))"),
            "/v1/admin/projects"
        );
    }
}
