//! The QR code of a short URL, for print: error correction Q (a quarter of the code may be
//! smudged or covered and it still reads), the quiet zone of 4 modules the standard asks for,
//! as SVG (vector, any size) and as a black-and-white PNG of at least 1,200 pixels a side,
//! marked 300 dpi (10 cm wide in print).

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

/// Modules of white around the code (ISO/IEC 18004's quiet zone).
pub const QUIET_ZONE: usize = 4;
/// The smallest PNG side, in pixels.
pub const MIN_PNG_PIXELS: usize = 1200;
/// 300 dots per inch, in the PNG's unit (pixels per metre).
const PIXELS_PER_METRE: u32 = 11_811;

fn code(text: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q).ok()
}

/// The QR code of `text` as an SVG document; none if `text` is too long for a QR code.
pub fn svg(text: &str) -> Option<String> {
    let code = code(text)?;
    Some(
        code.render::<svg::Color>()
            .quiet_zone(true)
            .min_dimensions(MIN_PNG_PIXELS as u32, MIN_PNG_PIXELS as u32)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

/// The QR code of `text` as a PNG (1 bit per pixel, grayscale, 300 dpi); none if `text` is too
/// long for a QR code.
pub fn png(text: &str) -> Option<Vec<u8>> {
    let code = code(text)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side_modules = modules + 2 * QUIET_ZONE;
    let scale = MIN_PNG_PIXELS.div_ceil(side_modules);
    let side = side_modules * scale;
    let row_bytes = side.div_ceil(8);
    // 1-bit grayscale: a set bit is white.
    let mut data = vec![0xffu8; row_bytes * side];
    for y in 0..modules {
        for x in 0..modules {
            if colors[y * modules + x] != Color::Dark {
                continue;
            }
            for py in (y + QUIET_ZONE) * scale..(y + QUIET_ZONE + 1) * scale {
                for px in (x + QUIET_ZONE) * scale..(x + QUIET_ZONE + 1) * scale {
                    data[py * row_bytes + px / 8] &= !(0x80 >> (px % 8));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(16 * 1024);
    let side = u32::try_from(side).ok()?;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: PIXELS_PER_METRE,
        yppu: PIXELS_PER_METRE,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&data).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_print_sized_and_decodes_as_a_png() {
        let bytes = png("https://recrutement.example.fr/l/dites32").unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert!(info.width as usize >= MIN_PNG_PIXELS);
        assert_eq!(info.width, info.height);
        assert_eq!(info.pixel_dims.unwrap().xppu, PIXELS_PER_METRE);
    }

    #[test]
    fn the_svg_is_an_svg_document() {
        let svg = svg("https://recrutement.example.fr/l/dites32").unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("#000000"));
    }
}
