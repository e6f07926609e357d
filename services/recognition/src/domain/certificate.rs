//! 志愿服务证明: service certificates. What a certificate prints (民发〔2015〕149号), the
//! canonical payload that is signed, Ed25519 signing and checking, and the printable page.
//!
//! The signed payload is exactly what is printed, so that anyone holding the instance's
//! public key can check a paper certificate without asking the instance; it carries no
//! unmasked personal data (the ID number comes masked from the registry's replica).

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` of every payload this module writes: a checker refuses others.
pub const PAYLOAD_FORMAT: &str = "egret.certificate.v1";

/// The life of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateState {
    /// 有效.
    Valid = 1,
    /// 已撤销.
    Revoked = 2,
}

impl CertificateState {
    /// From the stored number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(CertificateState::Valid),
            2 => Some(CertificateState::Revoked),
            _ => None,
        }
    }
}

/// A service certificate as stored: the printed fields, what it covers and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Id.
    pub id: String,
    /// 证明编号, `XM-2026-000001`.
    pub serial_number: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The activity ('' for a period).
    pub activity_id: String,
    /// 出具单位.
    pub issuer_org_unit_id: String,
    /// The first service day covered.
    pub period_start: CivilDate,
    /// The last service day covered.
    pub period_end: CivilDate,
    /// 服务时长, approved minutes covered.
    pub service_minutes: i64,
    /// State.
    pub state: CertificateState,
    /// Why it was revoked ('' while valid).
    pub revocation_reason: String,
    /// When it was revoked (microseconds), 0 while valid.
    pub revoke_time: i64,
    /// The canonical JSON that was signed.
    pub signed_payload: String,
    /// The Ed25519 signature of `signed_payload`, base64.
    pub signature: String,
    /// The signing key's id.
    pub key_id: String,
    /// 姓名.
    pub volunteer_display_name: String,
    /// 证件类型 (`resident_id`, …).
    pub id_type: String,
    /// 证件号码, masked.
    pub id_number_masked: String,
    /// 志愿者编号.
    pub volunteer_number: String,
    /// The activity's title ('' for a period).
    pub activity_display_name: String,
    /// 服务内容.
    pub service_content: String,
    /// The issuing unit's name.
    pub issuer_display_name: String,
    /// 负责人.
    pub person_in_charge: String,
    /// 经办人.
    pub handler: String,
    /// 联系方式 of the handler.
    pub handler_contact: String,
    /// 出具日期.
    pub issue_date: CivilDate,
    /// 备注.
    pub notes: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// The printed fields in the order they are signed. Field order is the canonical key
/// order: serde writes struct fields in declaration order, and serde_json writes UTF-8
/// unescaped, so the same certificate always gives the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printed {
    /// Always [`PAYLOAD_FORMAT`].
    pub format: String,
    /// 证明编号.
    pub serial_number: String,
    /// The issuing instance.
    pub instance: String,
    /// The signing key's id.
    pub key_id: String,
    /// 姓名.
    pub volunteer_name: String,
    /// 证件类型.
    pub id_type: String,
    /// 证件号码, masked.
    pub id_number_masked: String,
    /// 志愿者编号.
    pub volunteer_number: String,
    /// First day, `YYYY-MM-DD`.
    pub period_start: String,
    /// Last day, `YYYY-MM-DD`.
    pub period_end: String,
    /// The activity's title, or ''.
    pub activity: String,
    /// 服务时长 in minutes.
    pub service_minutes: i64,
    /// 服务内容.
    pub service_content: String,
    /// 出具单位.
    pub issuer: String,
    /// 负责人.
    pub person_in_charge: String,
    /// 经办人.
    pub handler: String,
    /// 联系方式.
    pub handler_contact: String,
    /// 出具日期, `YYYY-MM-DD`.
    pub issue_date: String,
    /// 备注.
    pub notes: String,
}

impl Certificate {
    /// The printed fields, as signed.
    pub fn printed(&self) -> Printed {
        Printed {
            format: PAYLOAD_FORMAT.to_string(),
            serial_number: self.serial_number.clone(),
            instance: self.meta.origin_instance.clone(),
            key_id: self.key_id.clone(),
            volunteer_name: self.volunteer_display_name.clone(),
            id_type: self.id_type.clone(),
            id_number_masked: self.id_number_masked.clone(),
            volunteer_number: self.volunteer_number.clone(),
            period_start: self.period_start.to_iso(),
            period_end: self.period_end.to_iso(),
            activity: self.activity_display_name.clone(),
            service_minutes: self.service_minutes,
            service_content: self.service_content.clone(),
            issuer: self.issuer_display_name.clone(),
            person_in_charge: self.person_in_charge.clone(),
            handler: self.handler.clone(),
            handler_contact: self.handler_contact.clone(),
            issue_date: self.issue_date.to_iso(),
            notes: self.notes.clone(),
        }
    }

    /// 验证码: the code printed beside the serial number (see [`verification_code`]).
    pub fn verification_code(&self) -> String {
        verification_code(&self.signature)
    }

    /// Whether `code` (already normalized by [`normalize_verification_code`]) is this
    /// certificate's verification code. Compares every character, whatever differs.
    pub fn has_verification_code(&self, code: &str) -> bool {
        let own = self.verification_code();
        own.len() == code.len()
            && own
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |differs, (a, b)| differs | (a ^ b))
                == 0
    }

    /// Fills `key_id`, `signed_payload` and `signature` from the printed fields.
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = key_id(&key.verifying_key());
        self.signed_payload = canonical_payload(&self.printed());
        self.signature = sign(key, &self.signed_payload);
    }
}

/// Crockford's base32 alphabet: digits and upper-case letters without `I`, `L`, `O` and
/// `U`, so that nothing read off paper is ambiguous.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The length of a verification code: 50 bits, too many to guess.
pub const VERIFICATION_CODE_LEN: usize = 10;

/// 验证码 of a certificate: the first ten characters of the Crockford base32 of the
/// SHA-256 of its signature (the base64 text as stored and printed). Derived, so it needs
/// no column; secret until printed, since the signature is.
pub fn verification_code(signature: &str) -> String {
    let digest = Sha256::digest(signature.as_bytes());
    let mut code = String::with_capacity(VERIFICATION_CODE_LEN);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in digest.iter() {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 && code.len() < VERIFICATION_CODE_LEN {
            bits -= 5;
            code.push(char::from(CROCKFORD[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
        if code.len() == VERIFICATION_CODE_LEN {
            break;
        }
    }
    code
}

/// A verification code as typed or scanned, in the form [`verification_code`] writes:
/// upper case, spaces and dashes dropped, and Crockford's look-alikes read as what they
/// look like (`O` as `0`, `I` and `L` as `1`). None unless that is ten characters of the
/// alphabet.
pub fn normalize_verification_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|character| !character.is_whitespace() && *character != '-')
        .map(|character| match character.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    (code.len() == VERIFICATION_CODE_LEN && code.bytes().all(|byte| CROCKFORD.contains(&byte)))
        .then_some(code)
}

/// The address a certificate's QR code opens: the verification page with the serial
/// number and the code as the query parameters `serial` and `code`.
pub fn verification_link(verification_url: &str, serial_number: &str, code: &str) -> String {
    let separator = if verification_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{verification_url}{separator}serial={}&code={}",
        percent_encode(serial_number),
        percent_encode(code)
    )
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The canonical JSON of the printed fields (UTF-8, fixed key order, no whitespace).
pub fn canonical_payload(printed: &Printed) -> String {
    serde_json::to_string(printed).expect("printed fields serialize")
}

/// The printed fields of a payload, if it is one this module wrote.
pub fn parse_payload(payload: &str) -> Option<Printed> {
    let printed: Printed = serde_json::from_str(payload).ok()?;
    // Only the canonical form is accepted, so two texts never check as one certificate.
    (printed.format == PAYLOAD_FORMAT && canonical_payload(&printed) == payload).then_some(printed)
}

/// The id by which certificates name the key: the first 16 hex digits of the SHA-256 of
/// the public key, short enough to print, long enough not to collide between instances.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// The public key as base64 of its 32 bytes.
pub fn public_key_base64(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// The public key as a PEM SubjectPublicKeyInfo (RFC 8410), for tools like openssl.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    // The DER of an Ed25519 SubjectPublicKeyInfo is this fixed prefix and the 32 bytes.
    const PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der)
    )
}

/// The Ed25519 signature of `payload`, base64.
pub fn sign(key: &SigningKey, payload: &str) -> String {
    STANDARD.encode(key.sign(payload.as_bytes()).to_bytes())
}

/// Why a signature does not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// Not 64 bytes of base64.
    Malformed,
    /// Another payload, or another key.
    Mismatch,
}

impl SignatureProblem {
    /// A sentence for the verifier.
    pub fn describe(self) -> &'static str {
        match self {
            SignatureProblem::Malformed => "the signature is not 64 bytes of base64 (签名格式无效)",
            SignatureProblem::Mismatch => {
                "the signature does not match: the text was changed, or another key signed it (签名不符，证明内容可能被篡改)"
            }
        }
    }
}

/// Checks a base64 signature of `payload`.
pub fn verify(key: &VerifyingKey, payload: &str, signature: &str) -> Result<(), SignatureProblem> {
    let bytes = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureProblem::Malformed)?;
    let signature = Signature::from_slice(&bytes).map_err(|_| SignatureProblem::Malformed)?;
    key.verify(payload.as_bytes(), &signature)
        .map_err(|_| SignatureProblem::Mismatch)
}

/// The Chinese name of an ID type key, as printed.
pub fn id_type_label(id_type: &str) -> &str {
    match id_type {
        "resident_id" => "居民身份证",
        "hk_macao_permit" => "港澳居民来往内地通行证",
        "taiwan_permit" => "台湾居民来往大陆通行证",
        "hmt_residence_permit" => "港澳台居民居住证",
        "passport" => "护照",
        other => other,
    }
}

/// Minutes as printed: `12 小时 30 分钟`.
pub fn hours_label(minutes: i64) -> String {
    let (hours, rest) = (minutes / 60, minutes % 60);
    if rest == 0 {
        format!("{hours} 小时")
    } else {
        format!("{hours} 小时 {rest} 分钟")
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters; input checks refuse them, so this
            // only guards against a damaged row.
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The width of a character in ems, roughly: CJK and full-width forms are square,
/// everything else a little over half (monospace Latin is 0.6).
fn char_width(character: char) -> f64 {
    if character >= '\u{2e80}' { 1.0 } else { 0.6 }
}

/// Splits `text` into lines at most `max_ems` wide (a line break in the text starts a new
/// line). Breaks anywhere: Chinese has no spaces, and the payload must print in full.
pub fn wrap(text: &str, max_ems: f64) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut width = 0.0;
        for character in paragraph.chars() {
            let next = char_width(character);
            if width + next > max_ems && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                width = 0.0;
            }
            line.push(character);
            width += next;
        }
        lines.push(line);
    }
    lines
}

/// A4 in millimetres: the page's user units.
const PAGE_WIDTH: f64 = 210.0;
const PAGE_HEIGHT: f64 = 297.0;
const MARGIN: f64 = 20.0;

struct Page {
    svg: String,
}

impl Page {
    fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, weight: &str, content: &str) {
        let _ = writeln!(
            self.svg,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size:.1}" text-anchor="{anchor}" font-weight="{weight}">{}</text>"#,
            escape_xml(content)
        );
    }
}

/// The side of the printed QR code, quiet zone included, in millimetres.
const QR_SIZE: f64 = 28.0;
/// The quiet zone around a QR code, in modules (ISO/IEC 18004 asks for four).
const QR_QUIET: usize = 4;

/// The QR code of `link` as SVG rectangles in a `size`-millimetre square at (`x`, `y`),
/// quiet zone included: one rectangle per horizontal run of dark modules. None when the
/// link does not fit a QR code (it always does for a checked verification address).
fn qr_svg(link: &str, x: f64, y: f64, size: f64) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let unit = size / (width + 2 * QR_QUIET) as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<g id="verification-qr" fill="#000000" shape-rendering="crispEdges">
<rect x="{x:.3}" y="{y:.3}" width="{size:.3}" height="{size:.3}" fill="#ffffff"/>"##
    );
    for row in 0..width {
        let mut column = 0;
        while column < width {
            if colors[row * width + column] != qrcode::Color::Dark {
                column += 1;
                continue;
            }
            let start = column;
            while column < width && colors[row * width + column] == qrcode::Color::Dark {
                column += 1;
            }
            let _ = writeln!(
                svg,
                r#"<rect x="{:.3}" y="{:.3}" width="{:.3}" height="{unit:.3}"/>"#,
                x + (start + QR_QUIET) as f64 * unit,
                y + (row + QR_QUIET) as f64 * unit,
                (column - start) as f64 * unit,
            );
        }
    }
    svg.push_str("</g>\n");
    Some(svg)
}

/// The printable A4 page (SVG): the federation's heading, the title, every field of
/// 民发〔2015〕149号, the serial number and verification code (with a QR code of the
/// verification page's link when `verification_url` is given), and the signed payload
/// and signature in small type at the bottom for checking offline. Long fields shrink the
/// body type so that nothing overlaps the verification blocks.
pub fn render_svg(
    heading: &str,
    certificate: &Certificate,
    verification_url: Option<&str>,
) -> String {
    let mut page = Page { svg: String::new() };
    let _ = writeln!(
        page.svg,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 {PAGE_WIDTH} {PAGE_HEIGHT}" font-family="'Noto Serif CJK SC','Source Han Serif SC','SimSun','Songti SC',serif" fill="#1a1a1a">
<title>志愿服务证明 {}</title>
<rect x="0" y="0" width="{PAGE_WIDTH}" height="{PAGE_HEIGHT}" fill="#ffffff"/>
<rect x="10" y="10" width="190" height="277" fill="none" stroke="#b22222" stroke-width="1.2"/>
<rect x="12" y="12" width="186" height="273" fill="none" stroke="#b22222" stroke-width="0.3"/>"##,
        escape_xml(&certificate.serial_number)
    );
    let center = PAGE_WIDTH / 2.0;
    page.text(center, 32.0, 5.5, "middle", "normal", heading);
    page.text(center, 48.0, 11.0, "middle", "bold", "志愿服务证明");
    page.text(
        PAGE_WIDTH - MARGIN,
        58.0,
        3.5,
        "end",
        "normal",
        &format!("编号：{}", certificate.serial_number),
    );

    // The verification block first: its height decides how much room the body has.
    let small = 1.7;
    let small_ems = (PAGE_WIDTH - 2.0 * MARGIN) / small;
    let mut foot_lines = vec![format!(
        "验证信息 / Verification: Ed25519, key {} — 将下列内容与签名提交至验证服务，或用公钥离线验证。",
        certificate.key_id
    )];
    foot_lines.extend(wrap(
        &format!("payload: {}", certificate.signed_payload),
        small_ems,
    ));
    foot_lines.extend(wrap(
        &format!("signature: {}", certificate.signature),
        small_ems,
    ));
    let foot_top = PAGE_HEIGHT - 16.0 - small * 1.35 * (foot_lines.len() as f64 - 1.0);

    // Above it, the serial number and the verification code, with the QR code of the
    // verification page's link when there is one.
    let code = certificate.verification_code();
    let qr = verification_url.and_then(|url| {
        let link = verification_link(url, &certificate.serial_number, &code);
        let band_top = foot_top - small - 3.0 - QR_SIZE;
        Some((url, qr_svg(&link, MARGIN, band_top, QR_SIZE)?))
    });
    let band_height = if qr.is_some() { QR_SIZE } else { 5.0 };
    let band_top = foot_top - small - 3.0 - band_height;

    let mut statement = format!(
        "兹证明 {} 同志于 {} 至 {} ",
        certificate.volunteer_display_name, certificate.period_start, certificate.period_end
    );
    if !certificate.activity_display_name.is_empty() {
        let _ = write!(statement, "参加“{}”", certificate.activity_display_name);
    } else {
        statement.push_str("参加");
    }
    let _ = write!(
        statement,
        "志愿服务，经审核累计服务时长 {}。特此证明。",
        hours_label(certificate.service_minutes)
    );
    let period = format!("{} 至 {}", certificate.period_start, certificate.period_end);
    let hours = hours_label(certificate.service_minutes);
    let mut fields: Vec<(&str, &str)> = vec![
        ("姓名", &certificate.volunteer_display_name),
        ("证件类型", id_type_label(&certificate.id_type)),
        ("证件号码", &certificate.id_number_masked),
        ("志愿者编号", &certificate.volunteer_number),
        ("服务时间", &period),
    ];
    if !certificate.activity_display_name.is_empty() {
        fields.push(("服务活动", &certificate.activity_display_name));
    }
    fields.extend([
        ("服务时长", hours.as_str()),
        ("服务内容", &certificate.service_content),
        ("出具单位", &certificate.issuer_display_name),
        ("负责人", &certificate.person_in_charge),
        ("经办人", &certificate.handler),
        ("联系方式", &certificate.handler_contact),
        ("备注", &certificate.notes),
    ]);

    // Lay the body out at a scale that leaves room for the issuer's block above the foot.
    let body_top = 72.0;
    let seal_block = 18.0;
    let label_width = 28.0;
    let mut scale: f64 = 1.0;
    let (statement_lines, field_lines) = loop {
        let body = 4.2 * scale;
        let field_size = 3.8 * scale;
        let statement_lines = wrap(&statement, (PAGE_WIDTH - 2.0 * MARGIN) / body);
        let value_ems = (PAGE_WIDTH - 2.0 * MARGIN - label_width) / field_size;
        let field_lines: Vec<(&str, Vec<String>)> = fields
            .iter()
            .map(|(label, value)| (*label, wrap(value, value_ems)))
            .collect();
        let count: usize = field_lines.iter().map(|(_, lines)| lines.len()).sum();
        let bottom = body_top
            + statement_lines.len() as f64 * body * 1.6
            + 3.0
            + count as f64 * field_size * 1.55;
        if bottom + seal_block <= band_top - 4.0 || scale < 0.5 {
            break (statement_lines, field_lines);
        }
        scale *= 0.9;
    };
    let body = 4.2 * scale;
    let field_size = 3.8 * scale;
    let mut y = body_top;
    for line in &statement_lines {
        page.text(MARGIN, y, body, "start", "normal", line);
        y += body * 1.6;
    }
    y += 3.0;
    for (label, lines) in &field_lines {
        page.text(
            MARGIN,
            y,
            field_size,
            "start",
            "bold",
            &format!("{label}："),
        );
        for line in lines {
            page.text(MARGIN + label_width, y, field_size, "start", "normal", line);
            y += field_size * 1.55;
        }
    }

    // The issuer's block, where the seal goes.
    let seal_y = (y + 8.0).max(205.0).min(band_top - 4.0 - 7.0);
    page.text(
        PAGE_WIDTH - MARGIN,
        seal_y,
        4.0,
        "end",
        "normal",
        &format!("出具单位（盖章）：{}", certificate.issuer_display_name),
    );
    page.text(
        PAGE_WIDTH - MARGIN,
        seal_y + 7.0,
        4.0,
        "end",
        "normal",
        &format!("出具日期：{}", certificate.issue_date),
    );

    // The serial number and the verification code, beside the QR code when there is one.
    let numbers = format!("证书编号 {}    验证码 {code}", certificate.serial_number);
    match &qr {
        Some((url, drawn)) => {
            page.svg.push_str(drawn);
            let text_x = MARGIN + QR_SIZE + 4.0;
            page.text(text_x, band_top + 8.0, 3.5, "start", "normal", &numbers);
            let hint_size = 2.8;
            let hint_ems = (PAGE_WIDTH - MARGIN - text_x) / hint_size;
            let mut hint_y = band_top + 14.0;
            for line in wrap(&format!("扫码或访问 {url} 验证"), hint_ems) {
                page.text(text_x, hint_y, hint_size, "start", "normal", &line);
                hint_y += hint_size * 1.4;
            }
        }
        None => page.text(MARGIN, band_top + 4.0, 3.5, "start", "normal", &numbers),
    }

    // The payload and the signature, small, at the foot of the page.
    let _ = writeln!(
        page.svg,
        r##"<g font-family="'DejaVu Sans Mono','Noto Sans Mono CJK SC',monospace" fill="#444444">"##
    );
    let mut foot = foot_top;
    for line in &foot_lines {
        page.text(MARGIN, foot, small, "start", "normal", line);
        foot += small * 1.35;
    }
    page.svg.push_str("</g>\n");

    if certificate.state == CertificateState::Revoked {
        let _ = writeln!(
            page.svg,
            r##"<text x="{center:.1}" y="150" font-size="24" text-anchor="middle" fill="#cc0000" fill-opacity="0.35" transform="rotate(-30 {center:.1} 150)">已撤销 REVOKED</text>"##
        );
    }
    page.svg.push_str("</svg>\n");
    page.svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate() -> Certificate {
        Certificate {
            id: "0b4f2a9e-0000-4000-8000-000000000001".to_string(),
            serial_number: "XM-2026-000001".to_string(),
            volunteer_id: "v".to_string(),
            activity_id: String::new(),
            issuer_org_unit_id: "u".to_string(),
            period_start: CivilDate::new(2026, 1, 1).unwrap(),
            period_end: CivilDate::new(2026, 6, 30).unwrap(),
            service_minutes: 750,
            state: CertificateState::Valid,
            revocation_reason: String::new(),
            revoke_time: 0,
            signed_payload: String::new(),
            signature: String::new(),
            key_id: String::new(),
            volunteer_display_name: "林<小>鹭 & \"Co\"".to_string(),
            id_type: "resident_id".to_string(),
            id_number_masked: "350***********1234".to_string(),
            volunteer_number: "XM0001".to_string(),
            activity_display_name: String::new(),
            service_content: "社区服务、图书馆导读".to_string(),
            issuer_display_name: "思明区妇联".to_string(),
            person_in_charge: "王主任".to_string(),
            handler: "李四".to_string(),
            handler_contact: "0592-1234567".to_string(),
            issue_date: CivilDate::new(2026, 7, 1).unwrap(),
            notes: String::new(),
            meta: Meta {
                origin_instance: "xm".to_string(),
                version: 1,
                create_time: 1,
                update_time: 1,
            },
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_xml(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape_xml("鹭岛\u{1}巾帼"), "鹭岛 巾帼");
    }

    #[test]
    fn the_payload_is_canonical_utf8_in_a_fixed_order() {
        let mut signed = certificate();
        signed.sign(&key());
        let payload = &signed.signed_payload;
        assert!(payload.starts_with(
            r#"{"format":"egret.certificate.v1","serial_number":"XM-2026-000001","instance":"xm","key_id":""#
        ));
        assert!(payload.contains(r#""volunteer_name":"林<小>鹭 & \"Co\"""#));
        assert!(payload.contains(r#""id_number_masked":"350***********1234""#));
        assert!(payload.ends_with(r#""issue_date":"2026-07-01","notes":""}"#));
        let keys: Vec<usize> = [
            "\"format\"",
            "\"serial_number\"",
            "\"volunteer_name\"",
            "\"notes\"",
        ]
        .iter()
        .map(|key| payload.find(key).unwrap())
        .collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        let parsed = parse_payload(payload).expect("parses");
        assert_eq!(parsed, signed.printed());
        assert_eq!(canonical_payload(&parsed), *payload);
        // Reordered or padded JSON is not the canonical text.
        assert!(parse_payload(&format!(" {payload}")).is_none());
    }

    #[test]
    fn signatures_check_and_tampering_fails() {
        let key = key();
        let mut signed = certificate();
        signed.sign(&key);
        assert_eq!(signed.key_id.len(), 16);
        assert_eq!(signed.key_id, key_id(&key.verifying_key()));
        let public = key.verifying_key();
        assert_eq!(
            verify(&public, &signed.signed_payload, &signed.signature),
            Ok(())
        );
        let tampered = signed.signed_payload.replace("750", "751");
        assert_eq!(
            verify(&public, &tampered, &signed.signature),
            Err(SignatureProblem::Mismatch)
        );
        assert_eq!(
            verify(&public, &signed.signed_payload, "not base64!"),
            Err(SignatureProblem::Malformed)
        );
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_eq!(
            verify(&other, &signed.signed_payload, &signed.signature),
            Err(SignatureProblem::Mismatch)
        );
        assert!(
            public_key_pem(&public).starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA")
        );
    }

    #[test]
    fn the_page_prints_every_field_escaped() {
        let mut signed = certificate();
        signed.sign(&key());
        let svg = render_svg("厦门市妇女联合会 · 鹭岛巾帼志愿联盟", &signed, None);
        for expected in [
            "厦门市妇女联合会 · 鹭岛巾帼志愿联盟",
            "志愿服务证明",
            "XM-2026-000001",
            "林&lt;小&gt;鹭 &amp; &quot;Co&quot;",
            "居民身份证",
            "350***********1234",
            "XM0001",
            "12 小时 30 分钟",
            "社区服务、图书馆导读",
            "思明区妇联",
            "王主任",
            "李四",
            "0592-1234567",
            "2026-07-01",
            &signed.key_id,
        ] {
            assert!(svg.contains(expected), "missing {expected}");
        }
        assert!(!svg.contains("林<小>"));
        assert!(!svg.contains("已撤销"));
        // The signature prints in full, possibly over two lines.
        let printed: String = svg.lines().filter(|line| line.contains("<text")).collect();
        let half = &signed.signature[..40];
        assert!(printed.contains(half));
        signed.state = CertificateState::Revoked;
        assert!(render_svg("h", &signed, None).contains("已撤销"));
    }

    /// The y coordinates of the page's text elements, in order.
    fn text_rows(svg: &str) -> Vec<f64> {
        svg.lines()
            .filter_map(|line| line.split("<text x=\"").nth(1))
            .filter_map(|rest| rest.split("y=\"").nth(1))
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn long_fields_leave_the_verification_block_clear() {
        let mut long = certificate();
        long.notes = "备".repeat(500);
        long.service_content = "服".repeat(200);
        long.issuer_display_name = "鹭".repeat(100);
        long.sign(&key());
        let svg = render_svg(
            "厦门市妇女联合会 · 鹭岛巾帼志愿联盟",
            &long,
            Some(&format!("https://{}/verify", "e".repeat(180))),
        );
        let rows = text_rows(&svg);
        let foot = svg
            .lines()
            .position(|line| line.contains("验证信息"))
            .expect("the verification block");
        let foot_top = text_rows(svg.lines().nth(foot).unwrap())[0];
        let body: Vec<f64> = rows.iter().copied().filter(|y| *y < foot_top).collect();
        assert!(body.len() + 1 < rows.len());
        assert!(body.iter().all(|y| *y < foot_top - 4.0), "{rows:?}");
        assert!(rows.iter().all(|y| *y < PAGE_HEIGHT - 12.0), "{rows:?}");
    }

    #[test]
    fn the_verification_code_is_ten_crockford_characters_of_the_signature() {
        // SHA-256 of the text, its first 50 bits in base32 (checked with Python).
        assert_eq!(verification_code(""), "WERC8GMRZG");
        assert_eq!(verification_code("bm90IGEgc2lnbmF0dXJl"), "W7B0HHF0VD");
        let mut signed = certificate();
        signed.sign(&key());
        let code = signed.verification_code();
        assert_eq!(code.len(), VERIFICATION_CODE_LEN);
        assert!(code.bytes().all(|byte| CROCKFORD.contains(&byte)), "{code}");
        assert!(!code.contains(['I', 'L', 'O', 'U']));
        assert_eq!(code, verification_code(&signed.signature));
        assert!(signed.has_verification_code(&code));
        assert!(!signed.has_verification_code(&verification_code("other")));
        assert!(!signed.has_verification_code(&code[..9]));
        // Another certificate with the next serial number has an unrelated code.
        let mut next = certificate();
        next.serial_number = "XM-2026-000002".to_string();
        next.sign(&key());
        assert_ne!(next.verification_code(), code);
    }

    #[test]
    fn typed_codes_are_normalized() {
        for (typed, expected) in [
            ("WERC8GMRZG", Some("WERC8GMRZG")),
            ("werc8gmrzg", Some("WERC8GMRZG")),
            (" werc8 -gmrzg ", Some("WERC8GMRZG")),
            ("WERC8-GMRZG", Some("WERC8GMRZG")),
            // Look-alikes read as what they look like.
            ("oil0000000", Some("0110000000")),
            ("WERC8GMRZ", None),
            ("WERC8GMRZGG", None),
            ("WERC8GMRZU", None),
            ("WERC8GMRZ!", None),
            ("", None),
        ] {
            assert_eq!(
                normalize_verification_code(typed).as_deref(),
                expected,
                "{typed:?}"
            );
        }
    }

    #[test]
    fn the_link_carries_serial_and_code_encoded() {
        assert_eq!(
            verification_link(
                "https://egret.example/verify",
                "XM-2026-000001",
                "ABCDE12345"
            ),
            "https://egret.example/verify?serial=XM-2026-000001&code=ABCDE12345"
        );
        assert_eq!(
            verification_link("https://egret.example/v?lang=zh", "X Y&1", "AB"),
            "https://egret.example/v?lang=zh&serial=X%20Y%261&code=AB"
        );
    }

    #[test]
    fn the_page_prints_the_code_and_the_qr_code_above_the_foot() {
        let mut signed = certificate();
        signed.sign(&key());
        let code = signed.verification_code();
        let plain = render_svg("h", &signed, None);
        assert!(plain.contains(&format!("证书编号 XM-2026-000001    验证码 {code}")));
        assert!(!plain.contains("verification-qr"));
        let svg = render_svg("h", &signed, Some("https://egret.example/verify"));
        assert!(svg.contains(&format!("验证码 {code}")));
        assert!(svg.contains("扫码或访问 https://egret.example/verify 验证"));
        let qr: Vec<&str> = svg
            .lines()
            .skip_while(|line| !line.contains("id=\"verification-qr\""))
            .take_while(|line| *line != "</g>")
            .collect();
        assert!(qr.len() > 50, "{} rectangles", qr.len());
        // The code sits between the issuer's block and the verification block.
        let row_of = |needle: &str| {
            let line = svg.lines().find(|line| line.contains(needle)).unwrap();
            text_rows(line)[0]
        };
        let qr_top: f64 = qr[1]
            .split("y=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|y| y.parse().ok())
            .unwrap();
        assert!(row_of("出具日期") < qr_top, "{svg}");
        assert!(qr_top + QR_SIZE < row_of("验证信息"), "{svg}");
    }

    #[test]
    fn wrapping_respects_width() {
        assert_eq!(wrap("一二三四五", 2.0), ["一二", "三四", "五"]);
        assert_eq!(wrap("", 5.0), [""]);
        assert_eq!(wrap("ab\ncd", 5.0), ["ab", "cd"]);
    }
}
