//! The staff menu: links grouped by area, shown according to the member's role, with the
//! current page marked. Built from the request's path in the staff extractor, so that no
//! handler has to say where it is.

use serde::Serialize;

/// The page of the member's API tokens (its handlers are in `web::tokens`; the menu marks it).
pub const TOKENS_PATH: &str = "/espace/jetons";

/// One link of the menu.
#[derive(Debug, Clone, Serialize)]
pub struct NavLink {
    pub href: &'static str,
    pub text: &'static str,
    /// The page shown is this link's page or one below it (`aria-current="page"`).
    pub current: bool,
}

/// A group of links under its title (« Recrutement », « Communication »…).
#[derive(Debug, Clone, Serialize)]
pub struct NavSection {
    pub title: &'static str,
    /// For the ids tying the title to its list.
    pub key: &'static str,
    pub links: Vec<NavLink>,
}

/// What the member may see.
#[derive(Debug, Clone, Copy)]
pub struct NavRoles {
    pub recruiting: bool,
    pub communication: bool,
    pub admin: bool,
}

/// (section title, key, [(href, text, shown)]).
type Group = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str, bool)>,
);

fn groups(r: NavRoles) -> Vec<Group> {
    vec![
        (
            "Recrutement",
            "recrutement",
            vec![
                ("/recrutement", "Candidatures", r.recruiting),
                ("/recrutement/relances", "Relances", r.recruiting),
                ("/recrutement/agenda", "Agenda", r.recruiting),
            ],
        ),
        (
            "Centres",
            "centres",
            vec![
                ("/capacite", "Capacité des centres", true),
                ("/admin/centres", "Centres", r.admin),
                ("/admin/postes", "Postes", r.admin),
            ],
        ),
        (
            "Communication",
            "communication",
            vec![
                ("/campagnes", "Campagnes", r.communication),
                ("/campagnes/modeles", "Modèles de campagne", r.communication),
                ("/campagnes/liens", "Liens suivis", r.communication),
                ("/contacts", "Contacts", r.communication),
                ("/listes", "Listes", r.communication),
                ("/rapports", "Rapports", r.communication),
            ],
        ),
        (
            "Administration",
            "administration",
            vec![
                ("/admin/utilisateurs", "Comptes", r.admin),
                ("/admin/modeles", "Modèles de courriels", r.admin),
                ("/admin/journal", "Journal", r.admin),
            ],
        ),
    ]
}

/// True when `path` is `href` or a page below it.
fn under(path: &str, href: &str) -> bool {
    path == href
        || path
            .strip_prefix(href)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('.'))
}

/// The menu for a member with `roles` on the page at `path`: the sections with at least one
/// link, the deepest link containing the page marked current (at most one).
pub fn menu(roles: NavRoles, path: &str) -> Vec<NavSection> {
    let groups = groups(roles);
    let current = groups
        .iter()
        .flat_map(|(_, _, links)| links.iter())
        .filter(|(href, _, shown)| *shown && under(path, href))
        .map(|(href, _, _)| *href)
        .max_by_key(|href| href.len());
    groups
        .into_iter()
        .filter_map(|(title, key, links)| {
            let links: Vec<NavLink> = links
                .into_iter()
                .filter(|(_, _, shown)| *shown)
                .map(|(href, text, _)| NavLink {
                    href,
                    text,
                    current: Some(href) == current,
                })
                .collect();
            (!links.is_empty()).then_some(NavSection { title, key, links })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: NavRoles = NavRoles {
        recruiting: true,
        communication: true,
        admin: true,
    };

    fn current(roles: NavRoles, path: &str) -> Vec<&'static str> {
        menu(roles, path)
            .into_iter()
            .flat_map(|s| s.links)
            .filter(|l| l.current)
            .map(|l| l.text)
            .collect()
    }

    #[test]
    fn the_deepest_link_holding_the_page_is_current() {
        assert_eq!(current(ALL, "/recrutement"), ["Candidatures"]);
        assert_eq!(current(ALL, "/recrutement/candidats/12"), ["Candidatures"]);
        assert_eq!(
            current(ALL, "/recrutement/propositions/3"),
            ["Candidatures"]
        );
        assert_eq!(current(ALL, "/recrutement/relances"), ["Relances"]);
        assert_eq!(
            current(ALL, "/campagnes/modeles/4"),
            ["Modèles de campagne"]
        );
        assert_eq!(current(ALL, "/campagnes/4"), ["Campagnes"]);
        assert_eq!(current(ALL, "/admin/modeles"), ["Modèles de courriels"]);
        assert_eq!(current(ALL, "/rapports/entonnoir.csv"), ["Rapports"]);
        assert!(current(ALL, "/espace").is_empty());
        assert!(current(ALL, "/recrutementx").is_empty());
    }

    #[test]
    fn each_role_sees_its_own_sections() {
        let recruiter = NavRoles {
            recruiting: true,
            communication: false,
            admin: false,
        };
        let titles: Vec<_> = menu(recruiter, "/").iter().map(|s| s.title).collect();
        assert_eq!(titles, ["Recrutement", "Centres"]);
        let communication = NavRoles {
            recruiting: false,
            communication: true,
            admin: false,
        };
        let titles: Vec<_> = menu(communication, "/").iter().map(|s| s.title).collect();
        assert_eq!(titles, ["Centres", "Communication"]);
        assert_eq!(menu(ALL, "/").len(), 4);
    }
}
