//! CVSS vectors to scores and qualitative ratings, via RustSec's `cvss`
//! crate (3.x scores v2, v3.0, v3.1 and v4.0 vectors).

use std::str::FromStr;

use serde::Serialize;

use crate::Error;
use crate::osv;

/// The qualitative rating of a score (CVSS v3.1 §5 / v4.0 §6 bands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// 0.0
    None,
    /// 0.1 to 3.9
    Low,
    /// 4.0 to 6.9
    Medium,
    /// 7.0 to 8.9
    High,
    /// 9.0 to 10.0
    Critical,
}

impl From<cvss::Severity> for Rating {
    fn from(s: cvss::Severity) -> Self {
        match s {
            cvss::Severity::None => Self::None,
            cvss::Severity::Low => Self::Low,
            cvss::Severity::Medium => Self::Medium,
            cvss::Severity::High => Self::High,
            cvss::Severity::Critical => Self::Critical,
        }
    }
}

/// Which CVSS version a vector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CvssVersion {
    /// CVSS v2.
    V2,
    /// CVSS v3.0 or v3.1.
    V3,
    /// CVSS v4.0.
    V4,
}

/// A scored CVSS vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// The CVSS version.
    pub version: CvssVersion,
    /// The vector as given.
    pub vector: String,
    /// The base score (v4: CVSS-B, or CVSS-BT/BE/BTE if those metrics are set).
    pub score: f64,
    /// The rating of `score`.
    pub rating: Rating,
}

impl Score {
    /// Scores a vector: `CVSS:3.x/...`, `CVSS:4.0/...`, or a bare v2 vector.
    pub fn parse(vector: &str) -> Result<Self, Error> {
        let invalid = |source| Error::InvalidCvss {
            vector: vector.to_owned(),
            source,
        };
        let trimmed = vector.trim();
        let parsed = if trimmed.starts_with("CVSS:") {
            cvss::Cvss::from_str(trimmed).map_err(invalid)?
        } else {
            cvss::Cvss::CvssV20(cvss::v2::Vector::from_str(trimmed).map_err(invalid)?)
        };
        let version = match &parsed {
            cvss::Cvss::CvssV20(_) => CvssVersion::V2,
            cvss::Cvss::CvssV40(_) => CvssVersion::V4,
            // CvssV30, CvssV31, and any later 3.x the crate adds.
            _ => CvssVersion::V3,
        };
        let score = parsed.score();
        Ok(Self {
            version,
            vector: trimmed.to_owned(),
            score,
            rating: rating_of(version, score, &parsed),
        })
    }
}

fn best(all: &[Score]) -> Option<Score> {
    all.iter()
        .max_by(|a, b| a.version.cmp(&b.version).then(a.score.total_cmp(&b.score)))
        .cloned()
}

fn rating_of(version: CvssVersion, score: f64, parsed: &cvss::Cvss) -> Rating {
    // CVSS v2 has no official ratings; NVD's bands are the common reading.
    if version == CvssVersion::V2 {
        return if score >= 7.0 {
            Rating::High
        } else if score >= 4.0 {
            Rating::Medium
        } else if score > 0.0 {
            Rating::Low
        } else {
            Rating::None
        };
    }
    parsed.severity().into()
}

/// The severity of a finding: the highest-versioned valid vector wins, so a
/// v4 score is preferred over a v3 one for the same advisory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityReport {
    /// The chosen score, if any vector parsed.
    pub score: Option<Score>,
    /// Every vector that parsed.
    pub all: Vec<Score>,
    /// Vectors that did not parse, with the reason, so they are not lost.
    pub invalid: Vec<(String, String)>,
}

impl SeverityReport {
    /// Scores every CVSS entry of `entries`; non-CVSS types are ignored.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a osv::Severity>) -> Self {
        let mut all = Vec::new();
        let mut invalid = Vec::new();
        for entry in entries {
            if !entry.kind.starts_with("CVSS_") {
                continue;
            }
            match Score::parse(&entry.score) {
                Ok(s) => {
                    if !all.contains(&s) {
                        all.push(s);
                    }
                }
                Err(e) => invalid.push((entry.score.clone(), e.to_string())),
            }
        }
        let score = all
            .iter()
            .max_by(|a, b| a.version.cmp(&b.version).then(a.score.total_cmp(&b.score)))
            .cloned();
        Self {
            score,
            all,
            invalid,
        }
    }

    /// Combines reports (of the advisories grouped in one finding), choosing
    /// the score again over all of them.
    pub fn merge<'a>(reports: impl IntoIterator<Item = &'a SeverityReport>) -> Self {
        let mut all: Vec<Score> = Vec::new();
        let mut invalid = Vec::new();
        for r in reports {
            for s in &r.all {
                if !all.contains(s) {
                    all.push(s.clone());
                }
            }
            for i in &r.invalid {
                if !invalid.contains(i) {
                    invalid.push(i.clone());
                }
            }
        }
        Self {
            score: best(&all),
            all,
            invalid,
        }
    }

    /// The rating, if any vector parsed.
    pub fn rating(&self) -> Option<Rating> {
        self.score.as_ref().map(|s| s.rating)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_vector_from_rustsec_2016_0001() {
        let s = Score::parse("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(s.version, CvssVersion::V3);
        assert!((s.score - 8.1).abs() < 1e-9, "{}", s.score);
        assert_eq!(s.rating, Rating::High);
    }

    #[test]
    fn v4_vectors_are_scored() {
        // The example vector of OSV's schema documentation.
        let s = Score::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N")
            .unwrap();
        assert_eq!(s.version, CvssVersion::V4);
        assert!(s.score > 0.0 && s.score < 10.0);
        // FIRST's calculator: AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N is 9.3.
        let s = Score::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
            .unwrap();
        assert!((s.score - 9.3).abs() < 1e-9, "{}", s.score);
        assert_eq!(s.rating, Rating::Critical);
    }

    #[test]
    fn v2_vectors_use_nvd_bands() {
        let s = Score::parse("AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap();
        assert_eq!(s.version, CvssVersion::V2);
        assert!((s.score - 7.5).abs() < 1e-9);
        assert_eq!(s.rating, Rating::High);
    }

    #[test]
    fn invalid_vectors_are_errors_and_kept_in_reports() {
        assert!(matches!(
            Score::parse("CVSS:3.1/AV:X"),
            Err(Error::InvalidCvss { .. })
        ));
        let entries = [
            osv::Severity {
                kind: "CVSS_V3".into(),
                score: "CVSS:3.1/garbage".into(),
            },
            osv::Severity {
                kind: "CVSS_V3".into(),
                score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
            },
            osv::Severity {
                kind: "Ubuntu".into(),
                score: "high".into(),
            },
        ];
        let r = SeverityReport::from_entries(&entries);
        assert_eq!(r.invalid.len(), 1);
        assert_eq!(r.rating(), Some(Rating::Critical));
    }
}
