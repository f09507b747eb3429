//! Missions: templates over named object roles (`{target.color}`), checked and filled in.

use crate::world::layout::{Layout, PlacedObject};

/// The attributes a placeholder may name: `{role.color}`, `{role.shape}`, `{role.size}`.
pub const ATTRIBUTES: [&str; 3] = ["color", "shape", "size"];

/// The `{role.attribute}` placeholders of a template, or why it is malformed.
pub fn placeholders(template: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `{{` in \"{template}\""))?;
        let inner = &after[..close];
        let (role, attr) = inner
            .split_once('.')
            .ok_or_else(|| format!("placeholder `{{{inner}}}` must be `{{role.attribute}}`, e.g. `{{target.color}}`"))?;
        if !ATTRIBUTES.contains(&attr) {
            return Err(format!("placeholder `{{{inner}}}` names no attribute (known: {})", ATTRIBUTES.join(", ")));
        }
        out.push((role.to_string(), attr.to_string()));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("unmatched `}}` in \"{template}\""));
    }
    Ok(out)
}

/// A template's own words, its placeholders left out: with [`answer_vocabulary`](super::answer_vocabulary)
/// (every colour, shape and size), the words any of its missions can use.
pub fn template_text(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push(' ');
        rest = rest[open..].find('}').map_or("", |close| &rest[open + close + 1..]);
    }
    out.push_str(rest);
    out
}

/// Fill a template with the words of the objects bound to its roles.
pub fn render(template: &str, layout: &Layout) -> String {
    let mut out = template.to_string();
    for (role, index) in &layout.roles {
        let o: &PlacedObject = &layout.objects[*index];
        out = out
            .replace(&format!("{{{role}.color}}"), o.color.name())
            .replace(&format!("{{{role}.shape}}"), o.shape.name())
            .replace(&format!("{{{role}.size}}"), o.size.name());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_text_drops_the_placeholders() {
        assert_eq!(template_text("go to the {target.color} {target.shape}"), "go to the    ");
        assert_eq!(template_text("how many {t.color} objects?"), "how many   objects?");
    }

    #[test]
    fn placeholders_parse_and_reject() {
        assert_eq!(
            placeholders("put the {a.color} {a.shape} by {b.shape}").expect("valid"),
            vec![("a".into(), "color".into()), ("a".into(), "shape".into()), ("b".into(), "shape".into())]
        );
        assert!(placeholders("go to the {color}").is_err());
        assert!(placeholders("go to the {a.colour}").is_err());
        assert!(placeholders("go to the {a.color").is_err());
    }
}
