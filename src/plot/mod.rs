//! Plots (PNG and SVG) drawn with plotters, with an embedded font so that no system library (fontconfig,
//! freetype) is needed.
//!
//! [`style`] holds the look shared by every chart (sizes, fonts, colours, tick and time formatting) so that the
//! report's plots read as one family; [`render`] draws a [`render::Chart`] once per backend and writes both files.

pub mod legend;
pub mod render;
pub mod rows;
pub mod style;

use std::sync::Once;

/// The font family every chart uses; registered once from the embedded DejaVu Sans.
pub const FONT: &str = "sans-serif";

static FONTS: Once = Once::new();

/// Registers the embedded font with plotters. Call before drawing any text; cheap after the first call.
pub fn init_fonts() {
    FONTS.call_once(|| {
        // Registering a valid embedded TTF cannot fail; an error here would be a build defect.
        let _ = plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, dejavu::sans::regular());
    });
}
