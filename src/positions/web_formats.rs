//! Open positions in the formats the open web reads: schema.org `JobPosting` JSON-LD (by
//! Google's rules for job postings), an Atom feed (RFC 4287), `sitemap.xml` and `robots.txt`.
//! Pure functions over [`OpenPosition`]s: the handlers in `web::positions_web` load and answer.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};

use super::open::OpenPosition;

/// Who publishes, as the formats name it.
pub struct Publisher<'a> {
    /// The public URL without its trailing slash.
    pub base: &'a str,
    /// The département (hiringOrganization, the feed's author).
    pub organisation: &'a str,
    /// The service's name (the feed's title).
    pub service: &'a str,
    /// The region of the centres' addresses (addressRegion), « Occitanie ».
    pub region: &'a str,
}

/// `schema:employmentType`: FULL_TIME, PART_TIME, or both when the range spans them.
pub fn employment_type(fte_min: i32, fte_max: i32) -> Value {
    match (fte_min >= 100, fte_max >= 100) {
        (true, _) => json!("FULL_TIME"),
        (false, true) => json!(["FULL_TIME", "PART_TIME"]),
        (false, false) => json!("PART_TIME"),
    }
}

/// HTML-escapes text (the description of a JobPosting may be HTML; ours is typed as text).
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The description as HTML paragraphs (blank lines separate them, single newlines break),
/// followed by the working time and the places.
fn description_html(p: &OpenPosition) -> String {
    let mut html = String::new();
    for paragraph in p.description.split("\n\n").filter(|s| !s.trim().is_empty()) {
        html.push_str("<p>");
        html.push_str(&escape_html(paragraph.trim()).replace('\n', "<br>"));
        html.push_str("</p>");
    }
    html.push_str(&format!(
        "<p>Poste salarié du Département. Temps de travail : {}.</p>",
        escape_html(&p.working_time.to_lowercase())
    ));
    if !p.communes.is_empty() {
        html.push_str(&format!(
            "<p>Lieu{} : {}.</p>",
            if p.communes.len() > 1 { "x" } else { "" },
            escape_html(&p.communes.join(", "))
        ));
    }
    html
}

/// The last second of `day` in Paris, as RFC 3339.
fn end_of_day_paris(day: NaiveDate) -> Option<String> {
    let local = day.and_hms_opt(23, 59, 59)?;
    chrono_tz::Europe::Paris
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
}

fn paris_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

/// The schema.org JobPosting of a position.
pub fn job_posting(p: &OpenPosition, by: &Publisher) -> Value {
    let address = |street: &str, locality: Option<&str>, postcode: &str| {
        let mut a = serde_json::Map::new();
        a.insert("@type".into(), json!("PostalAddress"));
        if !street.trim().is_empty() {
            a.insert("streetAddress".into(), json!(street));
        }
        if let Some(l) = locality {
            a.insert("addressLocality".into(), json!(l));
        }
        if !postcode.trim().is_empty() {
            a.insert("postalCode".into(), json!(postcode));
        }
        a.insert("addressRegion".into(), json!(by.region));
        a.insert("addressCountry".into(), json!("FR"));
        Value::Object(a)
    };
    let locations: Vec<Value> = if p.workplaces.is_empty() {
        // Anywhere in the département.
        vec![json!({ "@type": "Place", "address": address("", None, "") })]
    } else {
        p.workplaces
            .iter()
            .map(|w| {
                json!({
                    "@type": "Place",
                    "name": w.name,
                    "address": address(&w.street_address, Some(&w.commune), &w.postcode),
                })
            })
            .collect()
    };
    let url = format!("{}{}", by.base, p.path);
    let mut posting = json!({
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": p.title,
        "description": description_html(p),
        "datePosted": paris_day(p.published_at).to_string(),
        "employmentType": employment_type(p.fte_min_hundredths, p.fte_max_hundredths),
        "hiringOrganization": {
            "@type": "Organization",
            "name": by.organisation,
            "sameAs": by.base,
        },
        "identifier": {
            "@type": "PropertyValue",
            "name": by.organisation,
            "value": p.id.to_string(),
        },
        "jobLocation": locations,
        "directApply": true,
        "url": url,
    });
    if let (Some(day), Some(obj)) = (p.closes_on, posting.as_object_mut()) {
        if let Some(through) = end_of_day_paris(day) {
            obj.insert("validThrough".into(), json!(through));
        }
    }
    if let (Some(specialty), Some(obj)) = (&p.specialty, posting.as_object_mut()) {
        obj.insert("occupationalCategory".into(), json!(specialty));
    }
    posting
}

/// JSON safe inside an HTML `<script>` element: `<`, `>` and `&` (and the two line separators
/// old parsers choke on) written as JSON escapes, so no text can close the element or open a
/// comment; JSON parsers read the same value.
pub fn json_for_script(value: &Value) -> String {
    let raw = value.to_string();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for XML content and attribute values; drops the characters XML 1.0 forbids
/// (control characters typed into a title would otherwise make the whole document invalid).
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A short plain-text summary of a position: its description's first 300 characters.
pub fn summary(p: &OpenPosition) -> String {
    let mut parts = vec![p.working_time.clone()];
    if !p.communes.is_empty() {
        parts.push(p.communes.join(", "));
    }
    let head = parts.join(" · ");
    let description: String = p.description.chars().take(300).collect();
    if description.trim().is_empty() {
        head
    } else if description.len() < p.description.len() {
        format!("{head}. {}…", description.trim_end())
    } else {
        format!("{head}. {}", description.trim_end())
    }
}

/// The Atom feed of the open positions. `updated` is when the feed last changed (the latest
/// change of a position or a centre).
pub fn atom_feed(positions: &[OpenPosition], by: &Publisher, updated: DateTime<Utc>) -> String {
    let base = by.base;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"fr\">\n");
    xml.push_str(&format!("  <id>{}/postes</id>\n", escape_xml(base)));
    xml.push_str(&format!(
        "  <title>Postes ouverts – {}</title>\n",
        escape_xml(by.service)
    ));
    xml.push_str(&format!("  <updated>{}</updated>\n", rfc3339(updated)));
    xml.push_str(&format!(
        "  <author><name>{}</name><uri>{}/</uri></author>\n",
        escape_xml(by.organisation),
        escape_xml(base)
    ));
    xml.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}/postes.atom\"/>\n",
        escape_xml(base)
    ));
    xml.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}/postes\"/>\n",
        escape_xml(base)
    ));
    for p in positions {
        let url = escape_xml(&format!("{base}{}", p.path));
        xml.push_str("  <entry>\n");
        // The id stays when the title (hence the slug) changes.
        xml.push_str(&format!(
            "    <id>{}/postes/{}</id>\n",
            escape_xml(base),
            p.id
        ));
        xml.push_str(&format!("    <title>{}</title>\n", escape_xml(&p.title)));
        xml.push_str(&format!(
            "    <published>{}</published>\n",
            rfc3339(p.published_at)
        ));
        xml.push_str(&format!(
            "    <updated>{}</updated>\n",
            rfc3339(p.updated_at.max(p.published_at))
        ));
        xml.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>\n"
        ));
        xml.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            escape_xml(&summary(p))
        ));
        xml.push_str("  </entry>\n");
    }
    xml.push_str("</feed>\n");
    xml
}

/// The sitemap: the public pages and each open position with its last change.
pub fn sitemap(positions: &[OpenPosition], base: &str) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for path in ["/", "/candidature", "/postes"] {
        xml.push_str(&format!(
            "  <url><loc>{}</loc></url>\n",
            escape_xml(&format!("{base}{path}"))
        ));
    }
    for p in positions {
        xml.push_str(&format!(
            "  <url><loc>{}</loc><lastmod>{}</lastmod></url>\n",
            escape_xml(&format!("{base}{}", p.path)),
            rfc3339(p.updated_at.max(p.published_at))
        ));
    }
    xml.push_str("</urlset>\n");
    xml
}

/// Staff areas and private links that robots must not crawl.
pub const DISALLOWED: &[&str] = &[
    "/admin/",
    "/api/",
    "/campagnes",
    "/candidature/merci/",
    "/capacite",
    "/c/",
    "/connexion",
    "/contacts",
    "/desinscription/",
    "/espace",
    "/l/",
    "/listes",
    "/mes-donnees/",
    "/metrics",
    "/rapports",
    "/recrutement",
];

/// robots.txt: public pages allowed, staff areas and private links not, and the sitemap.
pub fn robots(base: &str) -> String {
    let mut text = String::from("User-agent: *\nAllow: /\n");
    for path in DISALLOWED {
        text.push_str(&format!("Disallow: {path}\n"));
    }
    text.push_str(&format!("\nSitemap: {base}/sitemap.xml\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::positions::open::Workplace;

    fn position(title: &str, min: i32, max: i32) -> OpenPosition {
        let t = Utc.with_ymd_and_hms(2026, 1, 10, 9, 0, 0).unwrap();
        OpenPosition {
            id: 7,
            title: title.to_owned(),
            description: "Premier paragraphe.\n\nSecond <b>paragraphe</b>.".to_owned(),
            specialty: Some("Médecine générale".to_owned()),
            working_time: crate::positions::describe_fte(min, max),
            fte_min_hundredths: min,
            fte_max_hundredths: max,
            workplaces: vec![Workplace {
                id: 1,
                name: "Centre territorial de santé de Fleurance".to_owned(),
                commune: "Fleurance".to_owned(),
                street_address: String::new(),
                postcode: "32500".to_owned(),
            }],
            communes: vec!["Fleurance".to_owned()],
            slug: crate::positions::open::slug(title),
            path: format!("/postes/7-{}", crate::positions::open::slug(title)),
            published_at: t,
            updated_at: t,
            closes_on: NaiveDate::from_ymd_opt(2026, 3, 31),
        }
    }

    fn publisher() -> Publisher<'static> {
        Publisher {
            base: "https://vocation.example",
            organisation: "Département du Gers",
            service: "Centre départemental de santé",
            region: "Occitanie",
        }
    }

    #[test]
    fn employment_types_follow_the_range() {
        assert_eq!(employment_type(100, 100), json!("FULL_TIME"));
        assert_eq!(employment_type(60, 80), json!("PART_TIME"));
        assert_eq!(employment_type(50, 100), json!(["FULL_TIME", "PART_TIME"]));
    }

    #[test]
    fn a_posting_has_the_required_properties_and_escapes_its_html() {
        let p = job_posting(&position("Médecin", 60, 100), &publisher());
        assert_eq!(p["datePosted"], "2026-01-10");
        assert_eq!(p["validThrough"], "2026-03-31T23:59:59+02:00");
        assert_eq!(p["jobLocation"][0]["address"]["postalCode"], "32500");
        assert!(p["jobLocation"][0]["address"]
            .get("streetAddress")
            .is_none());
        let d = p["description"].as_str().unwrap();
        assert!(
            d.contains("<p>Second &lt;b&gt;paragraphe&lt;/b&gt;.</p>"),
            "{d}"
        );
    }

    #[test]
    fn json_in_a_script_cannot_close_it() {
        let v = json!({ "title": "</script><script>alert(1)</script><!--", "x": "a&b\u{2028}" });
        let s = json_for_script(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn xml_text_is_escaped_and_control_characters_dropped() {
        assert_eq!(
            escape_xml("a<b>&\"'\u{0}\u{1b}é"),
            "a&lt;b&gt;&amp;&quot;&apos;é"
        );
    }
}
