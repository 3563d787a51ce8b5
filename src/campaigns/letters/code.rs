//! The personal code printed on each letter and carried by its short link (`/c/{code}`):
//! 8 characters of Crockford's base 32 (no I, L, O or U, so nothing reads as another
//! character), drawn at random: 40 bits, about a million million codes, so a code cannot be
//! guessed from another. Unique by an index; read back forgivingly (lower case, O for 0, I and
//! L for 1, a hyphen or spaces in the middle), never panicking on whatever is typed.

use rand::Rng;

/// Crockford's base-32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const LENGTH: usize = 8;

/// A new random code.
pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> String {
    (0..LENGTH)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The code a person or a link gives, normalised; None when it cannot be one.
pub fn parse(input: &str) -> Option<String> {
    // Longer than any way of writing a code: refused before looking at it.
    if input.len() > 24 {
        return None;
    }
    let mut code = String::with_capacity(LENGTH);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        code.push(c);
    }
    (code.len() == LENGTH).then_some(code)
}

/// « ABCD-EFGH », as printed (easier to read out and type).
pub fn display(code: &str) -> String {
    if code.len() == LENGTH && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_drawn_from_the_unambiguous_alphabet_and_read_back() {
        let mut rng = rand::thread_rng();
        for _ in 0..200 {
            let c = generate(&mut rng);
            assert_eq!(c.len(), LENGTH);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(parse(&c).as_deref(), Some(c.as_str()));
            assert_eq!(
                parse(&display(&c).to_lowercase()).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(parse("abcd-efgh").as_deref(), Some("ABCDEFGH"));
        assert_eq!(parse("O1LI-2345").as_deref(), Some("01112345"));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "ABCDEFG",
            "ABCDEFGHJ",
            "ABCDEFGU",
            "ABCD%20EF",
            "ÀBCDEFGH",
            "12.abcdefgh",
            &"A".repeat(10_000),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
