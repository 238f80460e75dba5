//! Languages of tracks.
//!
//! Sources tag their streams with ISO 639-2 codes, bibliographic (`fre`, as Matroska
//! writes) or terminology (`fra`); an MP4 `mdhd` box holds the terminology code
//! (ISO/IEC 14496-12, 8.4.2.3); HLS `LANGUAGE` and DASH `@lang` want a BCP 47 tag
//! (RFC 5646), whose primary subtag is the ISO 639-1 code where one exists (2.2.1).
//! [`Language`] reads any of these once and gives each form.

/// The ISO 639-2 bibliographic codes that differ from the terminology code (and so from
/// the ISO 639-3 code `isolang` reads), with that code. The list is closed: ISO 639-2
/// defines these twenty pairs and no others.
const BIBLIOGRAPHIC: [(&str, &str); 20] = [
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
];

/// A known human language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language(isolang::Language);

impl Language {
    /// Reads an ISO 639-1, ISO 639-2 (either form) or ISO 639-3 code, in any case, or
    /// a BCP 47 tag by its primary language subtag (`en-US` is English). Codes that
    /// name no one language (`und`, `mul`, `zxx`, `mis`) and unknown ones give `None`.
    pub fn from_code(code: &str) -> Option<Language> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        let language = match primary.len() {
            2 => isolang::Language::from_639_1(&primary)?,
            3 => {
                let terminology = BIBLIOGRAPHIC
                    .iter()
                    .find(|(b, _)| *b == primary)
                    .map_or(primary.as_str(), |(_, t)| t);
                isolang::Language::from_639_3(terminology)?
            }
            _ => return None,
        };
        match language {
            isolang::Language::Und
            | isolang::Language::Mul
            | isolang::Language::Zxx
            | isolang::Language::Mis => None,
            l => Some(Language(l)),
        }
    }

    /// The BCP 47 tag: the two-letter code where there is one, else the three-letter.
    pub fn bcp47(self) -> &'static str {
        self.0.to_639_1().unwrap_or_else(|| self.0.to_639_3())
    }

    /// The three-letter terminology code, as an MP4 `mdhd` box stores it.
    pub fn iso639_2(self) -> &'static str {
        self.0.to_639_3()
    }

    /// The English name ("Spanish"), for players' language menus.
    pub fn name(self) -> &'static str {
        self.0.to_name()
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.bcp47())
    }
}

/// A three-letter lowercase code that names no language `Language` knows (a private-use
/// `qaa`), kept as given; `None` for anything else, `und`, `mul`, `zxx` and `mis`
/// included.
pub fn unknown_code(code: &str) -> Option<String> {
    (code.len() == 3
        && code.bytes().all(|b| b.is_ascii_lowercase())
        && Language::from_code(code).is_none()
        && !["und", "mul", "zxx", "mis"].contains(&code))
    .then(|| code.to_string())
}

/// Written as its BCP 47 tag.
impl serde::Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.bcp47())
    }
}

/// Read from any code [`Language::from_code`] reads; anything else is an error that
/// names the value.
impl<'de> serde::Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Language, D::Error> {
        let code = String::deserialize(d)?;
        Language::from_code(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{:?} is not an ISO 639 language code (such as \"en\" or \"spa\")",
                code.chars().take(40).collect::<String>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_code_is_one_language() {
        let french = Language::from_code("fra").unwrap();
        for code in ["fr", "FR", "fre", "fra", "fr-CA", "fr_FR"] {
            assert_eq!(Language::from_code(code), Some(french), "{code}");
        }
        assert_eq!(french.bcp47(), "fr");
        assert_eq!(french.iso639_2(), "fra");
        assert_eq!(french.name(), "French");
        assert_eq!(Language::from_code("ger").unwrap().bcp47(), "de");
        assert_eq!(Language::from_code("chi").unwrap().iso639_2(), "zho");
    }

    #[test]
    fn serde_reads_any_code_and_writes_bcp47() {
        let l: Language = serde_json::from_str("\"spa\"").unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), "\"es\"");
        let err = serde_json::from_str::<Language>("\"klingonese\"").unwrap_err();
        assert!(err.to_string().contains("not an ISO 639"), "{err}");
    }

    #[test]
    fn a_language_without_a_two_letter_code_keeps_three_letters() {
        let hawaiian = Language::from_code("haw").unwrap();
        assert_eq!(hawaiian.bcp47(), "haw");
        assert_eq!(hawaiian.name(), "Hawaiian");
    }

    #[test]
    fn codes_that_name_no_language_are_none() {
        for code in [
            "und", "mul", "zxx", "mis", "", "x", "qqq", "english", "e\u{e9}", "--",
        ] {
            assert_eq!(Language::from_code(code), None, "{code:?}");
        }
    }
}
