//! Which container a process runs in, from its cgroup path: the full
//! 64-hex ID that cAdvisor and kube-state-metrics label their series with,
//! so planet's series join theirs in PromQL.
//!
//! Each runtime names the cgroup its own way:
//!
//! | runtime | cgroup path ends in |
//! |---|---|
//! | Docker (systemd driver) | `docker-<id>.scope` |
//! | Docker (cgroupfs driver) | `/docker/<id>` |
//! | containerd / CRI | `cri-containerd-<id>.scope` |
//! | CRI-O | `crio-<id>.scope` |
//! | Podman | `libpod-<id>.scope`, `/libpod_parent/libpod-<id>` (cgroupfs) |
//! | Kubernetes, cgroupfs driver | `/kubepods/.../pod<uid>/<id>` |
//!
//! The outermost component that is such an ID wins. Whoever runs inside a
//! cgroup may make sub-cgroups below it and name them as they like (a
//! container's own `.../docker-<id>.scope/init`, or a nested
//! `docker-<A>.scope/docker-<B>.scope` made to borrow B's name), but only
//! the runtime, as root, makes the outer one.
//!
//! One subtree is not root's: systemd delegates `user@<uid>.service` to
//! that user, who may name a directory there anything, a bare 64-hex ID or
//! `docker-<id>.scope` included. Only rootless Podman puts its containers
//! there, as `libpod-<id>.scope`; that is the one layout believed there.

/// Prefixes runtimes put before the ID in a cgroup directory's name.
const PREFIXES: [&str; 5] = ["docker-", "cri-containerd-", "crio-", "libpod-", ""];

/// The container ID in one cgroup path, if it names one.
pub fn container_in(path: &str) -> Option<&str> {
    let mut delegated = false;
    path.split('/').find_map(|component| {
        delegated |= is_user_manager(component);
        let id = match delegated {
            // Rootless Podman (systemd driver) is the only layout believed
            // in a user's own subtree.
            true => component
                .strip_prefix("libpod-")
                .and_then(|rest| rest.strip_suffix(".scope")),
            false => {
                let name = component.strip_suffix(".scope").unwrap_or(component);
                PREFIXES
                    .iter()
                    .find_map(|prefix| name.strip_prefix(prefix).filter(|id| is_container_id(id)))
            }
        };
        id.filter(|id| is_container_id(id))
    })
}

/// `user@<uid>.service`: systemd's per-user manager, whose subtree is
/// delegated to that user.
fn is_user_manager(component: &str) -> bool {
    component
        .strip_prefix("user@")
        .and_then(|rest| rest.strip_suffix(".service"))
        .is_some_and(|uid| !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()))
}

/// The container of a process from the lines of `/proc/PID/cgroup`, as
/// (hierarchy, path): the first path that names one, the cgroup v2 line
/// (hierarchy 0) first, as hosts run v1 and v2 side by side.
pub fn container_of<'a>(lines: impl IntoIterator<Item = (u32, &'a str)>) -> Option<&'a str> {
    let mut lines: Vec<(u32, &str)> = lines.into_iter().collect();
    lines.sort_by_key(|&(hierarchy, _)| hierarchy != 0);
    lines.into_iter().find_map(|(_, path)| container_in(path))
}

fn is_container_id(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1e4b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    #[test]
    fn every_runtimes_layout_gives_the_full_id() {
        for path in [
            format!("/system.slice/docker-{ID}.scope"),
            format!("/docker/{ID}"),
            format!("/system.slice/containerd.service/kubepods-burstable-pod1.slice:cri-containerd:{ID}"),
            format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9_8.slice/cri-containerd-{ID}.scope"),
            format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/libpod_parent/libpod-{ID}"),
            format!("/kubepods/burstable/pod7c1f5a3e-1b2c-4d5e-8f90-123456789abc/{ID}"),
            format!("/system.slice/docker-{ID}.scope/init"),
        ] {
            let expected = if path.contains(":cri-containerd:") {
                None // not a layout of the table: no guessing
            } else {
                Some(ID)
            };
            assert_eq!(container_in(&path), expected, "{path}");
        }
    }

    #[test]
    fn the_outermost_id_wins_so_a_nested_one_cannot_borrow_a_name() {
        let other = "b".repeat(64);
        let nested = format!("/system.slice/docker-{ID}.scope/docker-{other}.scope");
        assert_eq!(container_in(&nested), Some(ID));
        let bare = format!("/docker/{ID}/{other}");
        assert_eq!(container_in(&bare), Some(ID));
    }

    #[test]
    fn a_users_own_subtree_names_only_rootless_podman_containers() {
        let user = "/user.slice/user-1000.slice/user@1000.service";
        for borrowed in [
            format!("{user}/app.slice/{ID}"),
            format!("{user}/app.slice/docker-{ID}.scope"),
            format!("{user}/app.slice/cri-containerd-{ID}.scope"),
            format!("{user}/{ID}"),
            format!("{user}/user.slice/libpod-{ID}"),
        ] {
            assert_eq!(container_in(&borrowed), None, "{borrowed}");
        }
        let podman = format!("{user}/user.slice/libpod-{ID}.scope");
        assert_eq!(container_in(&podman), Some(ID));
        let inner = format!("{user}/user.slice/libpod-{ID}.scope/container");
        assert_eq!(container_in(&inner), Some(ID));
        // Not a user manager: the usual rules.
        let lookalike = format!("/system.slice/user@x.service/docker-{ID}.scope");
        assert_eq!(container_in(&lookalike), Some(ID));
    }

    #[test]
    fn hosts_and_look_alikes_are_no_container() {
        for path in [
            "/",
            "/user.slice/user-0.slice/session-1.scope",
            "/system.slice/ssh.service",
            &format!("/docker/{}", &ID[..63]),
            &format!("/docker/{}", ID.to_uppercase()),
            &format!("/docker/{ID}0"),
        ] {
            assert_eq!(container_in(path), None, "{path}");
        }
    }

    #[test]
    fn the_v2_line_comes_first() {
        let v1 = format!("/docker/{}", "a".repeat(64));
        let v2 = format!("/system.slice/docker-{ID}.scope");
        assert_eq!(container_of([(4, v1.as_str()), (0, v2.as_str())]), Some(ID));
        assert_eq!(
            container_of([(4, v1.as_str()), (0, "/")]),
            Some("a".repeat(64).as_str())
        );
        assert_eq!(container_of([(0, "/init.scope")]), None);
    }
}
