//! Identity data of volunteers: validation and normalization of identity
//! documents, phone numbers and email addresses, derivation of birth date and
//! gender from GB 11643 numbers, and masking of personal data for display.
//!
//! Every refusal carries an English and a Simplified-Chinese sentence so the
//! caller can show it to the volunteer without further translation.

use std::fmt;

/// Kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// Mainland resident identity card (居民身份证).
    ResidentId,
    /// Mainland travel permit for Hong Kong and Macao residents (港澳居民来往内地通行证).
    HkMacaoPermit,
    /// Mainland travel permit for Taiwan residents (台湾居民来往大陆通行证/台胞证).
    TaiwanPermit,
    /// Residence permit for Hong Kong, Macao and Taiwan residents (港澳台居民居住证).
    HmtResidencePermit,
    /// Passport of any country (护照).
    Passport,
}

impl IdType {
    /// English and Chinese names used inside error sentences.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            IdType::ResidentId => ("resident ID number", "身份证号码"),
            IdType::HkMacaoPermit => (
                "Hong Kong/Macao travel permit number",
                "港澳居民来往内地通行证号码",
            ),
            IdType::TaiwanPermit => ("Taiwan travel permit number", "台湾居民来往大陆通行证号码"),
            IdType::HmtResidencePermit => (
                "residence permit number for Hong Kong, Macao and Taiwan residents",
                "港澳台居民居住证号码",
            ),
            IdType::Passport => ("passport number", "护照号码"),
        }
    }
}

pub use crate::date::CivilDate;

/// Gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Female (even 17th digit).
    Female,
    /// Male (odd 17th digit).
    Male,
}

/// Why an input was refused: an English and a Simplified-Chinese sentence for the end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Sentence in English.
    pub en: String,
    /// Sentence in Simplified Chinese.
    pub zh: String,
}

impl Invalid {
    fn new(en: impl Into<String>, zh: impl Into<String>) -> Invalid {
        Invalid {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for Invalid {}

/// A validated identity document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocument {
    /// Kind of document the number belongs to.
    pub id_type: IdType,
    /// Normalized number: trimmed, ASCII uppercase, full-width characters (e.g. "１２３", "Ｘ") converted to ASCII, inner spaces removed; for Taiwan permits and HK/Macao permits also strip parentheses/hyphens.
    pub number: String,
    /// Derived for `ResidentId` and `HmtResidencePermit` (digits 7-14), `None` otherwise.
    pub birth_date: Option<CivilDate>,
    /// Derived for `ResidentId` and `HmtResidencePermit` (17th digit: odd = male, even = female), `None` otherwise.
    pub gender: Option<Gender>,
}

/// Maps full-width forms and typographic dashes to ASCII, because Chinese
/// input methods often produce them when volunteers type numbers.
fn to_halfwidth(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        _ => c,
    }
}

fn normalize_document(raw: &str, strip_punctuation: bool) -> String {
    raw.chars()
        .map(to_halfwidth)
        .filter(|c| !c.is_whitespace())
        .filter(|c| !(strip_punctuation && matches!(c, '(' | ')' | '-')))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

const GB11643_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const GB11643_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The GB 11643-1999 check character for the first 17 digits ('0'..='9' or 'X'); None if input isn't 17 ASCII digits.
#[must_use]
pub fn gb11643_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(GB11643_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(GB11643_CHECK[(sum % 11) as usize])
}

fn is_resident_province(code: u32) -> bool {
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65)
}

/// Checks the parts shared by resident IDs and HMT residence permits: the
/// birth date, the check character and the gender digit. `number` must be 18
/// ASCII characters whose first 17 are digits.
fn check_gb11643_body(
    id_type: IdType,
    number: &str,
    today: CivilDate,
) -> Result<(CivilDate, Gender), Invalid> {
    let (en, zh) = id_type.names();
    let digits = number.as_bytes();
    let num = |range: std::ops::Range<usize>| -> u32 {
        digits[range]
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    // Four digits always fit; 0 is refused by `CivilDate::new` anyway.
    let year = i32::try_from(num(6..10)).unwrap_or(0);
    let birth = CivilDate::new(year, num(10..12), num(12..14)).ok_or_else(|| {
        Invalid::new(
            format!("the birth date in this {en} (digits 7-14) is not a real date"),
            format!("{zh}中的出生日期（第7至14位）不是有效日期"),
        )
    })?;
    if birth
        < (CivilDate {
            year: 1900,
            month: 1,
            day: 1,
        })
    {
        return Err(Invalid::new(
            format!("the birth date in this {en} (digits 7-14) is before 1900-01-01"),
            format!("{zh}中的出生日期（第7至14位）早于1900年1月1日"),
        ));
    }
    if birth > today {
        return Err(Invalid::new(
            format!("the birth date in this {en} (digits 7-14) is in the future"),
            format!("{zh}中的出生日期（第7至14位）晚于今天"),
        ));
    }
    let expected = gb11643_check_char(&number[..17]);
    if expected != number.chars().nth(17) {
        return Err(Invalid::new(
            format!("the check digit of this {en} is wrong; please check the last character"),
            format!("{zh}校验位不正确，请核对最后一位"),
        ));
    }
    let gender = if num(16..17) % 2 == 1 {
        Gender::Male
    } else {
        Gender::Female
    };
    Ok((birth, gender))
}

/// Structural checks common to 18-character GB 11643 numbers, before any
/// type-specific prefix rule.
fn check_gb11643_shape(id_type: IdType, number: &str) -> Result<(), Invalid> {
    let (en, zh) = id_type.names();
    let len = number.chars().count();
    if len != 18 {
        return Err(Invalid::new(
            format!("a {en} must have 18 characters (you entered {len})"),
            format!("{zh}应为18位（当前为{len}位）"),
        ));
    }
    let chars: Vec<char> = number.chars().collect();
    if !chars[..17].iter().all(char::is_ascii_digit) {
        return Err(Invalid::new(
            format!("the first 17 characters of a {en} must be digits"),
            format!("{zh}前17位必须是数字"),
        ));
    }
    if !matches!(chars[17], '0'..='9' | 'X') {
        return Err(Invalid::new(
            format!("the last character of a {en} must be a digit or X"),
            format!("{zh}最后一位必须是数字或字母X"),
        ));
    }
    Ok(())
}

fn parse_resident_id(number: String, today: CivilDate) -> Result<IdentityDocument, Invalid> {
    if number.len() == 15 && number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "15-digit resident ID numbers are no longer accepted; please enter your 18-digit resident ID number",
            "不再接受15位旧版身份证号码，请输入18位身份证号码",
        ));
    }
    check_gb11643_shape(IdType::ResidentId, &number)?;
    let province =
        u32::from(number.as_bytes()[0] - b'0') * 10 + u32::from(number.as_bytes()[1] - b'0');
    if matches!(province, 81..=83) {
        return Err(Invalid::new(
            "resident ID numbers cannot start with 81, 82 or 83; those belong to residence permits for Hong Kong, Macao and Taiwan residents, so please choose that document type",
            "身份证号码不能以81、82、83开头，此类号码属于港澳台居民居住证，请选择对应的证件类型",
        ));
    }
    if !is_resident_province(province) {
        return Err(Invalid::new(
            "the first two digits of this resident ID number are not a valid province code",
            "身份证号码前两位不是有效的省级行政区代码",
        ));
    }
    let (birth, gender) = check_gb11643_body(IdType::ResidentId, &number, today)?;
    Ok(IdentityDocument {
        id_type: IdType::ResidentId,
        number,
        birth_date: Some(birth),
        gender: Some(gender),
    })
}

fn parse_hmt_residence_permit(
    number: String,
    today: CivilDate,
) -> Result<IdentityDocument, Invalid> {
    check_gb11643_shape(IdType::HmtResidencePermit, &number)?;
    if !["810000", "820000", "830000"]
        .iter()
        .any(|p| number.starts_with(p))
    {
        return Err(Invalid::new(
            "a residence permit number for Hong Kong, Macao and Taiwan residents must start with 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)",
            "港澳台居民居住证号码应以810000（香港）、820000（澳门）或830000（台湾）开头",
        ));
    }
    let (birth, gender) = check_gb11643_body(IdType::HmtResidencePermit, &number, today)?;
    Ok(IdentityDocument {
        id_type: IdType::HmtResidencePermit,
        number,
        birth_date: Some(birth),
        gender: Some(gender),
    })
}

fn parse_hk_macao_permit(number: String) -> Result<IdentityDocument, Invalid> {
    let ok = match number.as_bytes().split_first() {
        Some((b'H' | b'M', rest)) => {
            (rest.len() == 8 || rest.len() == 10) && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    if !ok {
        return Err(Invalid::new(
            "a Hong Kong/Macao travel permit number must be H (Hong Kong) or M (Macao) followed by 8 or 10 digits, e.g. H12345678",
            "港澳居民来往内地通行证号码应为字母H（香港）或M（澳门）加8位或10位数字，例如H12345678",
        ));
    }
    Ok(IdentityDocument {
        id_type: IdType::HkMacaoPermit,
        number,
        birth_date: None,
        gender: None,
    })
}

/// Accepts the current 8-digit card and the older form with a 1-2 character
/// issue number, which people write either in parentheses or appended.
fn parse_taiwan_permit(raw: &str) -> Result<IdentityDocument, Invalid> {
    let compact: String = normalize_document(raw, false)
        .chars()
        .filter(|&c| c != '-')
        .collect();
    let suffix_ok = |s: &str| s.len() <= 2 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let ok = compact.len() >= 8
        && compact.is_char_boundary(8)
        && compact[..8].bytes().all(|b| b.is_ascii_digit())
        && match &compact[8..] {
            rest if rest.contains(['(', ')']) => rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .is_some_and(|issue| !issue.is_empty() && suffix_ok(issue)),
            rest => suffix_ok(rest),
        };
    if !ok {
        return Err(Invalid::new(
            "a Taiwan travel permit number must have 8 digits, optionally followed by an issue number in parentheses, e.g. 12345678 or 12345678(B)",
            "台湾居民来往大陆通行证号码应为8位数字，旧版证件可在其后加括号内的换证次数，例如12345678或12345678(B)",
        ));
    }
    Ok(IdentityDocument {
        id_type: IdType::TaiwanPermit,
        number: compact.replace(['(', ')'], ""),
        birth_date: None,
        gender: None,
    })
}

fn parse_passport(number: String) -> Result<IdentityDocument, Invalid> {
    let ok = (5..=20).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(Invalid::new(
            "a passport number must have 5 to 20 letters or digits",
            "护照号码应为5至20位字母或数字",
        ));
    }
    Ok(IdentityDocument {
        id_type: IdType::Passport,
        number,
        birth_date: None,
        gender: None,
    })
}

/// Validates and normalizes an identity number of the given type. `today` bounds birth dates (a birth date after today is invalid; before 1900-01-01 invalid).
///
/// # Errors
///
/// Returns [`Invalid`] naming the first rule the number breaks: empty input,
/// wrong length or characters, a 15-digit legacy resident ID, a bad province
/// or permit prefix, an impossible or out-of-range birth date, or a wrong
/// check character.
pub fn parse_identity(
    id_type: IdType,
    raw: &str,
    today: CivilDate,
) -> Result<IdentityDocument, Invalid> {
    let (en, zh) = id_type.names();
    let strip = matches!(id_type, IdType::HkMacaoPermit | IdType::TaiwanPermit);
    let number = normalize_document(raw, strip);
    if number.is_empty() {
        return Err(Invalid::new(
            format!("the {en} is required"),
            format!("{zh}不能为空"),
        ));
    }
    match id_type {
        IdType::ResidentId => parse_resident_id(number, today),
        IdType::HmtResidencePermit => parse_hmt_residence_permit(number, today),
        IdType::HkMacaoPermit => parse_hk_macao_permit(number),
        IdType::TaiwanPermit => parse_taiwan_permit(raw),
        IdType::Passport => parse_passport(number),
    }
}

fn check_mobile(digits: &str) -> Result<(), Invalid> {
    let len = digits.len();
    if !digits.starts_with('1') {
        return Err(Invalid::new(
            "a mainland mobile number must start with 1",
            "手机号码应以1开头",
        ));
    }
    if len != 11 {
        return Err(Invalid::new(
            format!("a mainland mobile number must have 11 digits (you entered {len})"),
            format!("手机号码应为11位（当前为{len}位）"),
        ));
    }
    if !matches!(digits.as_bytes()[1], b'3'..=b'9') {
        return Err(Invalid::new(
            "a mainland mobile number must start with 13 to 19",
            "手机号码应以13至19开头",
        ));
    }
    Ok(())
}

fn parse_international(digits: &str) -> Result<String, Invalid> {
    if let Some(national) = digits.strip_prefix("86") {
        return check_mobile(national)
            .map(|()| national.to_string())
            .map_err(|_| {
                Invalid::new(
                    "after +86 please enter an 11-digit mainland mobile number; enter a landline with its area code instead, e.g. 0592-2033990",
                    "+86后应为11位手机号码；固定电话请直接填写区号和号码，例如0592-2033990",
                )
            });
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(Invalid::new(
            "an international number must have 7 to 15 digits after the +",
            "国际电话号码“+”后应为7至15位数字",
        ));
    }
    if digits.starts_with('0') {
        return Err(Invalid::new(
            "the country code after the + cannot start with 0",
            "“+”后的国家或地区代码不能以0开头",
        ));
    }
    Ok(format!("+{digits}"))
}

/// Mainland area codes 010 and 02x have three digits, all others four; used
/// only when the volunteer typed no separator after the area code.
fn split_area_code(digits: &str) -> (&str, &str) {
    let area_len = if matches!(digits.as_bytes().get(1), Some(b'1' | b'2')) {
        3
    } else {
        4
    };
    digits.split_at(area_len.min(digits.len()))
}

fn parse_landline(groups: &[&str]) -> Result<String, Invalid> {
    let too_many = || {
        Invalid::new(
            "this phone number has too many parts; please use the form 0592-2033990 or 0592-2033990-12",
            "电话号码分段过多，请按0592-2033990或0592-2033990-12的格式填写",
        )
    };
    let (area, local, extension) = if groups[0].len() <= 4 {
        if groups.len() > 3 {
            return Err(too_many());
        }
        (
            groups[0],
            groups.get(1).copied().unwrap_or(""),
            groups.get(2),
        )
    } else {
        if groups.len() > 2 {
            return Err(too_many());
        }
        let (area, local) = split_area_code(groups[0]);
        (area, local, groups.get(1))
    };
    if !(3..=4).contains(&area.len()) || area.as_bytes().get(1) == Some(&b'0') {
        return Err(Invalid::new(
            "the area code must be 0 followed by 2 or 3 digits, e.g. 0592",
            "区号应为0加2至3位数字，例如0592",
        ));
    }
    if !(7..=8).contains(&local.len()) || local.starts_with('0') {
        return Err(Invalid::new(
            "a landline number must have 7 or 8 digits after the area code, e.g. 0592-2033990",
            "固定电话号码在区号后应为7或8位数字，例如0592-2033990",
        ));
    }
    match extension {
        None => Ok(format!("{area}-{local}")),
        Some(ext) if (1..=6).contains(&ext.len()) => Ok(format!("{area}-{local}-{ext}")),
        Some(_) => Err(Invalid::new(
            "an extension must have 1 to 6 digits",
            "分机号应为1至6位数字",
        )),
    }
}

/// Validates and normalizes a phone number. Accepts: a mainland mobile (11 digits, starting 1 then 3-9), optionally prefixed "+86" or "86" and with spaces/hyphens (normalized to the 11 digits); a mainland landline with area code "0" + 2-3 digits, then 7-8 digits, optionally separated by '-' or space, optionally with extension "-1234" (normalized as "0592-2033990" or "0592-2033990-12"); a local 7-8 digit landline without area code (e.g. "2033990", normalized as is); an international number "+" country code (not 86) and 6-14 more digits total max 15 digits (normalized "+85291234567", spaces/hyphens removed). Full-width digits converted.
///
/// # Errors
///
/// Returns [`Invalid`] when the input is empty, contains characters other
/// than digits, spaces, hyphens and a leading '+', or fits none of the forms
/// above; the sentence names the part that is wrong.
pub fn parse_phone(raw: &str) -> Result<String, Invalid> {
    let text: String = raw.chars().map(to_halfwidth).collect();
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::new(
            "the phone number is required",
            "电话号码不能为空",
        ));
    }
    let (international, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let is_separator = |c: char| c == '-' || c.is_whitespace();
    if !body.chars().all(|c| c.is_ascii_digit() || is_separator(c)) {
        return Err(Invalid::new(
            "a phone number may only contain digits, spaces, hyphens and a leading +",
            "电话号码只能包含数字、空格、连字符及开头的“+”号",
        ));
    }
    let groups: Vec<&str> = body.split(is_separator).filter(|g| !g.is_empty()).collect();
    let digits: String = groups.concat();
    if international {
        return parse_international(&digits);
    }
    match digits.as_bytes() {
        [b'8', b'6', b'1', ..] if digits.len() == 13 => {
            check_mobile(&digits[2..]).map(|()| digits[2..].to_string())
        }
        [b'1', ..] => check_mobile(&digits).map(|()| digits),
        [b'0', ..] => parse_landline(&groups),
        [b'2'..=b'9', ..] if (7..=8).contains(&digits.len()) => Ok(digits),
        _ => Err(Invalid::new(
            "this is not a recognized phone number; please enter an 11-digit mobile number, a landline such as 0592-2033990, or an international number starting with +",
            "无法识别的电话号码，请输入11位手机号码、固定电话（如0592-2033990）或以“+”开头的国际号码",
        )),
    }
}

/// Validates an email address pragmatically (one '@', non-empty local part <= 64, domain with at least one dot, labels of letters/digits/hyphens not starting/ending with hyphen, TLD letters >= 2, total <= 254, no spaces). Returns it trimmed with the domain lowercased.
///
/// # Errors
///
/// Returns [`Invalid`] describing the first rule the address breaks.
pub fn parse_email(raw: &str) -> Result<String, Invalid> {
    let email = raw.trim();
    if email.is_empty() {
        return Err(Invalid::new(
            "the email address is required",
            "电子邮箱不能为空",
        ));
    }
    if email.chars().any(char::is_whitespace) {
        return Err(Invalid::new(
            "an email address cannot contain spaces",
            "电子邮箱不能包含空格",
        ));
    }
    if email.len() > 254 {
        return Err(Invalid::new(
            "an email address cannot be longer than 254 characters",
            "电子邮箱长度不能超过254个字符",
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(Invalid::new(
            "an email address must contain @, e.g. name@example.com",
            "电子邮箱必须包含@，例如name@example.com",
        ));
    };
    if domain.contains('@') {
        return Err(Invalid::new(
            "an email address can contain only one @",
            "电子邮箱只能包含一个@",
        ));
    }
    if local.is_empty() {
        return Err(Invalid::new(
            "the part of the email address before @ is missing",
            "电子邮箱@前面的部分不能为空",
        ));
    }
    if local.len() > 64 {
        return Err(Invalid::new(
            "the part of the email address before @ cannot be longer than 64 characters",
            "电子邮箱@前面的部分不能超过64个字符",
        ));
    }
    // Characters that only quoted local parts may contain; real volunteers
    // typing them almost always made a typo.
    let bad_local_char = |c: char| c.is_control() || "\"(),:;<>[\\]".contains(c);
    if local.chars().any(bad_local_char)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(Invalid::new(
            "the part of the email address before @ contains characters that are not allowed",
            "电子邮箱@前面的部分包含不允许的字符",
        ));
    }
    let domain = domain.to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(Invalid::new(
            "the domain of the email address (after @) must contain a dot, e.g. example.com",
            "电子邮箱@后面的域名应包含点号，例如example.com",
        ));
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return Err(Invalid::new(
            "the domain of the email address (after @) is not valid",
            "电子邮箱@后面的域名格式不正确",
        ));
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Invalid::new(
            "the email address must end with a valid top-level domain such as .com or .cn",
            "电子邮箱应以有效的顶级域名结尾，例如.com或.cn",
        ));
    }
    Ok(format!("{local}@{domain}"))
}

/// Keeps `head` leading and `tail` trailing chars and stars the rest, so
/// the masked text has the same length as the original.
fn mask_middle(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    if head + tail >= n {
        return "*".repeat(n);
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

/// Masks an identity number for display: keep the first 3 and last 4 characters, replace the middle with '*' of the same count; numbers of 8 or fewer characters: keep first 1 and last 2 (e.g. "350102199001011234" -> "350***********1234", 18 chars total).
///
/// Numbers of 3 or fewer characters are fully starred, since keeping 1 + 2
/// characters would reveal all of them.
#[must_use]
pub fn mask_id_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() > 8 {
        mask_middle(&chars, 3, 4)
    } else {
        mask_middle(&chars, 1, 2)
    }
}

fn is_mobile_chars(chars: &[char]) -> bool {
    chars.len() == 11 && chars[0] == '1' && chars.iter().all(char::is_ascii_digit)
}

/// Masks the local part of a normalized landline ("0592-2033990[-12]"),
/// keeping the area code and extension; None if it is not in that form.
fn mask_landline(phone: &str) -> Option<String> {
    let parts: Vec<&str> = phone.split('-').collect();
    let all_digits = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !all_digits || !(2..=3).contains(&parts.len()) {
        return None;
    }
    let (area, local) = (parts[0], parts[1]);
    if !area.starts_with('0') || !(3..=4).contains(&area.len()) || local.len() < 5 {
        return None;
    }
    let local_chars: Vec<char> = local.chars().collect();
    let mut out = format!("{area}-{}", mask_middle(&local_chars, 0, 4));
    if let Some(ext) = parts.get(2) {
        out.push('-');
        out.push_str(ext);
    }
    Some(out)
}

/// Masks a phone: mainland mobile "13812345678" -> "138****5678"; other numbers keep the first 3 and last 2 characters... for normalized landline "0592-2033990" -> "0592-***3990" (keep area code and last 4 of the local number); international "+85291234567" -> "+852*****4567" (keep "+" and up to 3 digits of country code; keep last 4); anything shorter than 7 characters -> all '*' of the same length. Operates on chars, never panics on any UTF-8 input.
///
/// The mask always has as many characters as the input, so the international
/// example above actually yields "+852****4567" (12 characters). "+86"
/// followed by a mainland mobile keeps "+86" and masks the mobile as usual.
/// The country-code digits kept shrink for short numbers so that at least
/// three digits stay hidden.
#[must_use]
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n < 7 {
        return "*".repeat(n);
    }
    if is_mobile_chars(&chars) {
        return mask_middle(&chars, 3, 4);
    }
    if chars[0] == '+' {
        if chars[1..].starts_with(&['8', '6']) && is_mobile_chars(&chars[3..]) {
            return format!("+86{}", mask_middle(&chars[3..], 3, 4));
        }
        let country_digits = (n - 1 - 4).saturating_sub(3).min(3);
        return mask_middle(&chars, 1 + country_digits, 4);
    }
    mask_landline(phone).unwrap_or_else(|| mask_middle(&chars, 3, 2))
}

/// Masks an email: the first character of the local part, then `***@domain`.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return if email.is_empty() {
            String::new()
        } else {
            "***".to_string()
        };
    };
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// Age in whole years on `on`.
///
/// Someone born on 29 February turns a year older on 1 March in common
/// years, and the age is 0 when `on` precedes `birth`.
#[must_use]
pub fn age_on(birth: CivilDate, on: CivilDate) -> u32 {
    let mut years = on.year - birth.year;
    if (on.month, on.day) < (birth.month, birth.day) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_mask() {
        assert_eq!(mask_email("zhang.san@example.cn"), "z***@example.cn");
        assert_eq!(mask_email(""), "");
        assert_eq!(mask_email("nonsense"), "***");
    }

    fn d(y: i32, m: u32, day: u32) -> CivilDate {
        CivilDate::new(y, m, day).expect("test date must exist")
    }

    fn today() -> CivilDate {
        d(2025, 6, 1)
    }

    fn id(t: IdType, raw: &str) -> Result<IdentityDocument, Invalid> {
        parse_identity(t, raw, today())
    }

    fn err_en(r: Result<impl fmt::Debug, Invalid>) -> String {
        r.expect_err("expected refusal").en
    }

    // ---- CivilDate ----

    #[test]
    fn civil_date_leap_years() {
        assert!(CivilDate::new(2000, 2, 29).is_some());
        assert!(CivilDate::new(1900, 2, 29).is_none());
        assert!(CivilDate::new(2024, 2, 29).is_some());
        assert!(CivilDate::new(2023, 2, 29).is_none());
        assert!(CivilDate::new(2023, 2, 28).is_some());
    }

    #[test]
    fn civil_date_rejects_impossible_dates() {
        assert!(CivilDate::new(2020, 2, 30).is_none());
        assert!(CivilDate::new(2020, 13, 1).is_none());
        assert!(CivilDate::new(2020, 0, 1).is_none());
        assert!(CivilDate::new(2020, 4, 31).is_none());
        assert!(CivilDate::new(2020, 1, 0).is_none());
        assert!(CivilDate::new(0, 1, 1).is_none());
        assert!(CivilDate::new(10000, 1, 1).is_none());
        assert!(CivilDate::new(9999, 12, 31).is_some());
        assert!(CivilDate::new(1, 1, 1).is_some());
    }

    #[test]
    fn civil_date_iso_round_trip() {
        let date = d(1990, 3, 15);
        assert_eq!(date.to_iso(), "1990-03-15");
        assert_eq!(date.to_string(), "1990-03-15");
        assert_eq!(d(7, 1, 2).to_iso(), "0007-01-02");
        assert_eq!(CivilDate::parse_iso("1990-03-15"), Some(date));
        assert_eq!(CivilDate::parse_iso("2000-02-29"), Some(d(2000, 2, 29)));
    }

    #[test]
    fn civil_date_parse_rejects_bad_text() {
        for s in [
            "",
            "1990-3-15",
            "1990/03/15",
            "1990-02-30",
            "19900315",
            "1990-03-15 ",
            "+990-03-15",
            "1990-03-1x",
            "０990-03-15",
            "1990-03-155",
            "0000-01-01",
        ] {
            assert_eq!(CivilDate::parse_iso(s), None, "{s:?}");
        }
    }

    #[test]
    fn civil_date_orders_chronologically() {
        assert!(d(1990, 3, 15) < d(1990, 3, 16));
        assert!(d(1990, 12, 31) < d(1991, 1, 1));
        assert!(d(1990, 2, 28) < d(1990, 10, 1));
    }

    // ---- GB 11643 ----

    #[test]
    fn check_char_known_values() {
        assert_eq!(gb11643_check_char("11010519491231002"), Some('X'));
        assert_eq!(gb11643_check_char("35020319900315002"), Some('2'));
        assert_eq!(gb11643_check_char("81000019940823002"), Some('1'));
        assert_eq!(gb11643_check_char("11010519491231004"), Some('6'));
    }

    #[test]
    fn check_char_rejects_bad_input() {
        assert_eq!(gb11643_check_char(""), None);
        assert_eq!(gb11643_check_char("1101051949123100"), None);
        assert_eq!(gb11643_check_char("110105194912310021"), None);
        assert_eq!(gb11643_check_char("1101051949123100X"), None);
        assert_eq!(gb11643_check_char("１1010519491231002"), None);
    }

    // ---- Resident ID ----

    #[test]
    fn resident_id_xiamen_woman() {
        let doc = id(IdType::ResidentId, "350203199003150022").unwrap();
        assert_eq!(doc.id_type, IdType::ResidentId);
        assert_eq!(doc.number, "350203199003150022");
        assert_eq!(doc.birth_date, Some(d(1990, 3, 15)));
        assert_eq!(doc.gender, Some(Gender::Female));
    }

    #[test]
    fn resident_id_well_known_sample() {
        let doc = id(IdType::ResidentId, "11010519491231002X").unwrap();
        assert_eq!(doc.birth_date, Some(d(1949, 12, 31)));
        assert_eq!(doc.gender, Some(Gender::Female));
        assert_eq!(doc.number, "11010519491231002X");
    }

    #[test]
    fn resident_id_male_and_leap_day() {
        let male = id(IdType::ResidentId, "350203190012310031").unwrap();
        assert_eq!(male.gender, Some(Gender::Male));
        assert_eq!(male.birth_date, Some(d(1900, 12, 31)));
        let leap = id(IdType::ResidentId, "350203200002290010").unwrap();
        assert_eq!(leap.birth_date, Some(d(2000, 2, 29)));
        assert_eq!(leap.gender, Some(Gender::Male));
    }

    #[test]
    fn resident_id_lowercase_x_and_spaces() {
        let doc = id(IdType::ResidentId, "  110105 19491231 002x \t").unwrap();
        assert_eq!(doc.number, "11010519491231002X");
    }

    #[test]
    fn resident_id_full_width() {
        let doc = id(IdType::ResidentId, "１１０１０５１９４９１２３１００２Ｘ").unwrap();
        assert_eq!(doc.number, "11010519491231002X");
        let doc = id(
            IdType::ResidentId,
            "\u{3000}３５０２０３１９９００３１５００２２\u{3000}",
        )
        .unwrap();
        assert_eq!(doc.number, "350203199003150022");
        let doc = id(IdType::ResidentId, "１１０１０５１９４９１２３１００２ｘ").unwrap();
        assert_eq!(doc.number, "11010519491231002X");
    }

    #[test]
    fn resident_id_wrong_check_digit() {
        let e = id(IdType::ResidentId, "350203199003150023").unwrap_err();
        assert_eq!(
            e.en,
            "the check digit of this resident ID number is wrong; please check the last character"
        );
        assert_eq!(e.zh, "身份证号码校验位不正确，请核对最后一位");
        assert!(err_en(id(IdType::ResidentId, "110105194912310021")).contains("check digit"));
    }

    #[test]
    fn resident_id_feb_30() {
        // Check digit computed for the impossible date so only the date is wrong.
        let first17 = "35020319900230002";
        let number = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        let e = id(IdType::ResidentId, &number).unwrap_err();
        assert!(e.en.contains("not a real date"), "{}", e.en);
        assert!(e.zh.contains("出生日期"));
    }

    #[test]
    fn resident_id_future_and_too_old() {
        let first17 = "35020320250602002";
        let future = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert!(err_en(id(IdType::ResidentId, &future)).contains("future"));
        // Born today is fine.
        let first17 = "35020320250601002";
        let born_today = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert!(id(IdType::ResidentId, &born_today).is_ok());
        let first17 = "35020318991231002";
        let old = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert!(err_en(id(IdType::ResidentId, &old)).contains("1900-01-01"));
    }

    #[test]
    fn resident_id_bad_province() {
        for prefix in ["10", "16", "24", "38", "47", "55", "66", "71", "90", "00"] {
            let first17 = format!("{prefix}020319900315002");
            let number = format!("{first17}{}", gb11643_check_char(&first17).unwrap());
            let e = id(IdType::ResidentId, &number).unwrap_err();
            assert!(e.en.contains("province code"), "{prefix}: {}", e.en);
        }
    }

    #[test]
    fn resident_id_rejects_hmt_prefixes_with_hint() {
        for number in [
            "810000199408230021",
            "820000200002290013",
            "830000198511070045",
        ] {
            let e = id(IdType::ResidentId, number).unwrap_err();
            assert!(e.en.contains("residence permits"), "{}", e.en);
            assert!(e.zh.contains("港澳台居民居住证"));
        }
    }

    #[test]
    fn resident_id_fifteen_digits() {
        let e = id(IdType::ResidentId, "350203900315002").unwrap_err();
        assert!(e.en.contains("18-digit"), "{}", e.en);
        assert!(e.zh.contains("18位"));
    }

    #[test]
    fn resident_id_wrong_length_and_characters() {
        let e = id(IdType::ResidentId, "35020319900315002").unwrap_err();
        assert!(e.en.contains("18 characters (you entered 17)"), "{}", e.en);
        assert!(e.zh.contains("当前为17位"));
        assert!(err_en(id(IdType::ResidentId, "3502031990031500222")).contains("18 characters"));
        assert!(err_en(id(IdType::ResidentId, "3502031990031500A2")).contains("first 17"));
        assert!(err_en(id(IdType::ResidentId, "35020319900315002Y")).contains("last character"));
        assert!(err_en(id(IdType::ResidentId, "35020319900315002中")).contains("last character"));
        assert!(err_en(id(IdType::ResidentId, "中5020319900315002X")).contains("first 17"));
    }

    #[test]
    fn every_type_requires_input() {
        for t in [
            IdType::ResidentId,
            IdType::HkMacaoPermit,
            IdType::TaiwanPermit,
            IdType::HmtResidencePermit,
            IdType::Passport,
        ] {
            for raw in ["", "   ", "\u{3000}"] {
                let e = id(t, raw).unwrap_err();
                assert!(e.en.ends_with("is required"), "{t:?}: {}", e.en);
                assert!(e.zh.ends_with("不能为空"), "{t:?}: {}", e.zh);
            }
        }
        assert_eq!(
            id(IdType::ResidentId, "").unwrap_err(),
            Invalid::new("the resident ID number is required", "身份证号码不能为空")
        );
    }

    // ---- HMT residence permit ----

    #[test]
    fn hmt_permit_valid() {
        let hk = id(IdType::HmtResidencePermit, "810000199408230021").unwrap();
        assert_eq!(hk.birth_date, Some(d(1994, 8, 23)));
        assert_eq!(hk.gender, Some(Gender::Female));
        let mo = id(IdType::HmtResidencePermit, "820000200002290013").unwrap();
        assert_eq!(mo.birth_date, Some(d(2000, 2, 29)));
        assert_eq!(mo.gender, Some(Gender::Male));
        let tw = id(
            IdType::HmtResidencePermit,
            "８３００００１９８５１１０７００４５",
        )
        .unwrap();
        assert_eq!(tw.number, "830000198511070045");
        assert_eq!(tw.gender, Some(Gender::Female));
    }

    #[test]
    fn hmt_permit_invalid() {
        let e = id(IdType::HmtResidencePermit, "350203199003150022").unwrap_err();
        assert!(e.en.contains("810000"), "{}", e.en);
        assert!(err_en(id(IdType::HmtResidencePermit, "810001199408230021")).contains("810000"));
        assert!(
            err_en(id(IdType::HmtResidencePermit, "810000199408230022")).contains("check digit")
        );
        assert!(
            err_en(id(IdType::HmtResidencePermit, "81000019940823002")).contains("18 characters")
        );
        let first17 = "81000019940230002";
        let bad_date = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert!(err_en(id(IdType::HmtResidencePermit, &bad_date)).contains("not a real date"));
    }

    // ---- HK/Macao permit ----

    #[test]
    fn hk_macao_permit_valid() {
        let doc = id(IdType::HkMacaoPermit, "H12345678").unwrap();
        assert_eq!(doc.number, "H12345678");
        assert_eq!(doc.birth_date, None);
        assert_eq!(doc.gender, None);
        assert_eq!(
            id(IdType::HkMacaoPermit, " m1234567890 ").unwrap().number,
            "M1234567890"
        );
        assert_eq!(
            id(IdType::HkMacaoPermit, "Ｈ１２３４５６７８")
                .unwrap()
                .number,
            "H12345678"
        );
        assert_eq!(
            id(IdType::HkMacaoPermit, "H-1234-5678").unwrap().number,
            "H12345678"
        );
        assert_eq!(
            id(IdType::HkMacaoPermit, "H12345678(90)").unwrap().number,
            "H1234567890"
        );
    }

    #[test]
    fn hk_macao_permit_invalid() {
        for raw in [
            "A12345678",
            "H1234567",
            "H123456789",
            "H12345678901",
            "12345678",
            "HH1234567",
            "H1234567X",
            "Ｈ",
        ] {
            let e = id(IdType::HkMacaoPermit, raw).unwrap_err();
            assert!(
                e.en.contains("H (Hong Kong) or M (Macao)"),
                "{raw}: {}",
                e.en
            );
        }
    }

    // ---- Taiwan permit ----

    #[test]
    fn taiwan_permit_valid() {
        let doc = id(IdType::TaiwanPermit, "12345678").unwrap();
        assert_eq!(doc.number, "12345678");
        assert_eq!(doc.birth_date, None);
        assert_eq!(
            id(IdType::TaiwanPermit, "12345678(B)").unwrap().number,
            "12345678B"
        );
        assert_eq!(
            id(IdType::TaiwanPermit, "12345678(b)").unwrap().number,
            "12345678B"
        );
        assert_eq!(
            id(IdType::TaiwanPermit, "12345678（01）").unwrap().number,
            "1234567801"
        );
        assert_eq!(
            id(IdType::TaiwanPermit, "12345678 (B)").unwrap().number,
            "12345678B"
        );
        assert_eq!(
            id(IdType::TaiwanPermit, "1234-5678").unwrap().number,
            "12345678"
        );
        assert_eq!(
            id(IdType::TaiwanPermit, "１２３４５６７８").unwrap().number,
            "12345678"
        );
    }

    #[test]
    fn taiwan_permit_invalid() {
        for raw in [
            "1234567",
            "123456789012",
            "A2345678",
            "12345678(ABC)",
            "12345678()",
            "12345678(B",
            "(12345678)",
            "1234(5678)",
            "12345678中",
            "中2345678",
            "12345678(B)(C)",
        ] {
            let e = id(IdType::TaiwanPermit, raw).unwrap_err();
            assert!(e.en.contains("8 digits"), "{raw}: {}", e.en);
            assert!(e.zh.contains("8位数字"));
        }
    }

    // ---- Passport ----

    #[test]
    fn passport_valid_and_invalid() {
        assert_eq!(
            id(IdType::Passport, " e1234 5678 ").unwrap().number,
            "E12345678"
        );
        assert_eq!(
            id(IdType::Passport, "Ｇ１２３４５").unwrap().number,
            "G12345"
        );
        assert!(id(IdType::Passport, "A1234").is_ok());
        assert!(id(IdType::Passport, &"A".repeat(20)).is_ok());
        for raw in [
            "A123",
            &"A".repeat(21),
            "E-1234567",
            "E1234567中",
            "E123/4567",
        ] {
            let e = id(IdType::Passport, raw).unwrap_err();
            assert!(e.en.contains("5 to 20"), "{raw}: {}", e.en);
        }
    }

    // ---- Phones ----

    #[test]
    fn phone_mobile_forms() {
        for raw in [
            "13812345678",
            " 138 1234 5678 ",
            "138-1234-5678",
            "+8613812345678",
            "+86 138 1234 5678",
            "8613812345678",
            "86-138-1234-5678",
            "１３８１２３４５６７８",
            "＋８６ １３８１２３４５６７８",
        ] {
            assert_eq!(parse_phone(raw).as_deref(), Ok("13812345678"), "{raw}");
        }
        assert_eq!(parse_phone("19912345678").as_deref(), Ok("19912345678"));
    }

    #[test]
    fn phone_mobile_invalid() {
        assert!(err_en(parse_phone("1381234567")).contains("11 digits (you entered 10)"));
        assert!(err_en(parse_phone("138123456789")).contains("11 digits"));
        assert!(err_en(parse_phone("138123")).contains("11 digits"));
        assert!(err_en(parse_phone("12812345678")).contains("13 to 19"));
        assert!(err_en(parse_phone("10812345678")).contains("13 to 19"));
        assert!(err_en(parse_phone("8612812345678")).contains("13 to 19"));
        assert!(err_en(parse_phone("+8612812345678")).contains("+86"));
        assert!(err_en(parse_phone("+86 0592 2033990")).contains("+86"));
        assert!(err_en(parse_phone("1381234567a")).contains("only contain digits"));
        assert!(err_en(parse_phone("abc")).contains("only contain digits"));
        assert!(err_en(parse_phone("138+12345678")).contains("only contain digits"));
        assert!(err_en(parse_phone("++8613812345678")).contains("only contain digits"));
        assert!(err_en(parse_phone("(0592)2033990")).contains("only contain digits"));
    }

    #[test]
    fn phone_required() {
        let e = parse_phone("  ").unwrap_err();
        assert_eq!(e.en, "the phone number is required");
        assert_eq!(e.zh, "电话号码不能为空");
        assert!(parse_phone("").is_err());
    }

    #[test]
    fn phone_landline_forms() {
        let cases = [
            ("0592-2033990", "0592-2033990"),
            ("0592 2033990", "0592-2033990"),
            ("05922033990", "0592-2033990"),
            ("0592-2033990-12", "0592-2033990-12"),
            ("0592 2033990 1234", "0592-2033990-1234"),
            ("05922033990-12", "0592-2033990-12"),
            ("010-12345678", "010-12345678"),
            ("01012345678", "010-12345678"),
            ("02112345678", "021-12345678"),
            ("021 12345678", "021-12345678"),
            ("０５９２－２０３３９９０", "0592-2033990"),
            ("0592—2033990", "0592-2033990"),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_phone(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn phone_landline_invalid() {
        assert!(err_en(parse_phone("0592-203399")).contains("7 or 8 digits"));
        assert!(err_en(parse_phone("0592-203399012")).contains("7 or 8 digits"));
        assert!(err_en(parse_phone("0592-0203399")).contains("7 or 8 digits"));
        assert!(err_en(parse_phone("0592")).contains("7 or 8 digits"));
        assert!(err_en(parse_phone("05-2033990")).contains("area code"));
        assert!(err_en(parse_phone("00-2033990")).contains("area code"));
        assert!(err_en(parse_phone("0086 13812345678")).contains("area code"));
        assert!(err_en(parse_phone("0592-2033990-1234567")).contains("extension"));
        assert!(err_en(parse_phone("0592-203-3990-12")).contains("too many parts"));
        assert!(err_en(parse_phone("05922033990-1-2")).contains("too many parts"));
    }

    #[test]
    fn phone_local_landline() {
        assert_eq!(parse_phone("2033990").as_deref(), Ok("2033990"));
        assert_eq!(parse_phone("22033990").as_deref(), Ok("22033990"));
        assert_eq!(parse_phone("203-3990").as_deref(), Ok("2033990"));
        assert!(err_en(parse_phone("203399")).contains("not a recognized"));
        assert!(err_en(parse_phone("220339901")).contains("not a recognized"));
        assert!(err_en(parse_phone("-")).contains("not a recognized"));
    }

    #[test]
    fn phone_international() {
        assert_eq!(parse_phone("+85291234567").as_deref(), Ok("+85291234567"));
        assert_eq!(parse_phone("+852 9123-4567").as_deref(), Ok("+85291234567"));
        assert_eq!(
            parse_phone("+1 415 555 2671").as_deref(),
            Ok("+14155552671")
        );
        assert_eq!(parse_phone("+8869123456").as_deref(), Ok("+8869123456"));
        assert_eq!(parse_phone("+1234567").as_deref(), Ok("+1234567"));
        assert_eq!(
            parse_phone("+123456789012345").as_deref(),
            Ok("+123456789012345")
        );
        assert!(err_en(parse_phone("+123456")).contains("7 to 15"));
        assert!(err_en(parse_phone("+1234567890123456")).contains("7 to 15"));
        assert!(err_en(parse_phone("+")).contains("7 to 15"));
        assert!(err_en(parse_phone("+0123456789")).contains("country code"));
        assert!(err_en(parse_phone("+852 9123 456x")).contains("only contain digits"));
    }

    // ---- Email ----

    #[test]
    fn email_valid() {
        assert_eq!(
            parse_email("  Volunteer@Example.COM ").as_deref(),
            Ok("Volunteer@example.com")
        );
        assert_eq!(
            parse_email("li.na+egret@xm-fed.gov.cn").as_deref(),
            Ok("li.na+egret@xm-fed.gov.cn")
        );
        assert_eq!(parse_email("a@b.co").as_deref(), Ok("a@b.co"));
        assert_eq!(
            parse_email("user_1@163.com").as_deref(),
            Ok("user_1@163.com")
        );
        let local = "a".repeat(64);
        assert!(parse_email(&format!("{local}@example.com")).is_ok());
    }

    #[test]
    fn email_invalid() {
        let cases = [
            ("", "required"),
            ("a b@example.com", "spaces"),
            ("ab@exa mple.com", "spaces"),
            ("example.com", "must contain @"),
            ("a@b@example.com", "only one @"),
            ("@example.com", "before @ is missing"),
            ("a..b@example.com", "not allowed"),
            (".ab@example.com", "not allowed"),
            ("ab.@example.com", "not allowed"),
            ("a<b@example.com", "not allowed"),
            ("ab@localhost", "must contain a dot"),
            ("ab@", "must contain a dot"),
            ("ab@-example.com", "domain"),
            ("ab@example-.com", "domain"),
            ("ab@exa_mple.com", "domain"),
            ("ab@example..com", "domain"),
            ("ab@example.com.", "domain"),
            ("ab@.example.com", "domain"),
            ("ab@例子.com", "domain"),
            ("ab@example.c", "top-level"),
            ("ab@example.c0m", "top-level"),
            ("ab@example.123", "top-level"),
        ];
        for (raw, needle) in cases {
            let e = parse_email(raw).unwrap_err();
            assert!(e.en.contains(needle), "{raw}: {}", e.en);
            assert!(!e.zh.is_empty());
        }
        let long_local = "a".repeat(65);
        assert!(err_en(parse_email(&format!("{long_local}@example.com"))).contains("64"));
        let long_domain = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(err_en(parse_email(&format!("ab@{long_domain}"))).contains("254"));
    }

    // ---- Masking ----

    #[test]
    fn mask_id_number_cases() {
        let masked = mask_id_number("350102199001011234");
        assert_eq!(masked, "350***********1234");
        assert_eq!(masked.chars().count(), 18);
        assert_eq!(mask_id_number("H12345678"), "H12**5678");
        assert_eq!(mask_id_number("12345678"), "1*****78");
        assert_eq!(mask_id_number("12345678B"), "123**678B");
        assert_eq!(mask_id_number("A1234"), "A**34");
        assert_eq!(mask_id_number("ABCD"), "A*CD");
        assert_eq!(mask_id_number("ABC"), "***");
        assert_eq!(mask_id_number("A"), "*");
        assert_eq!(mask_id_number(""), "");
    }

    #[test]
    fn mask_id_number_non_ascii() {
        assert_eq!(mask_id_number("身份证号码一二三四五"), "身份证***二三四五");
        assert_eq!(mask_id_number("中文号码"), "中*号码");
        assert_eq!(mask_id_number("é"), "*");
        assert_eq!(mask_id_number("🙂🙂🙂🙂🙂🙂🙂🙂🙂"), "🙂🙂🙂**🙂🙂🙂🙂");
    }

    #[test]
    fn mask_phone_cases() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("0592-2033990"), "0592-***3990");
        assert_eq!(mask_phone("010-12345678"), "010-****5678");
        assert_eq!(mask_phone("0592-2033990-12"), "0592-***3990-12");
        assert_eq!(mask_phone("+85291234567"), "+852****4567");
        assert_eq!(mask_phone("+14155552671"), "+141****2671");
        assert_eq!(mask_phone("+1234567"), "+***4567");
        assert_eq!(mask_phone("+8613812345678"), "+86138****5678");
        assert_eq!(mask_phone("2033990"), "203**90");
        assert_eq!(mask_phone("22033990"), "220***90");
        assert_eq!(mask_phone("123456"), "******");
        assert_eq!(mask_phone(""), "");
        for p in [
            "13812345678",
            "0592-2033990",
            "+85291234567",
            "2033990",
            "+1234567",
        ] {
            assert_eq!(mask_phone(p).chars().count(), p.chars().count(), "{p}");
        }
    }

    #[test]
    fn mask_phone_non_ascii_never_panics() {
        assert_eq!(mask_phone("电话"), "**");
        assert_eq!(mask_phone("电话号码一二三四"), "电话号***三四");
        assert_eq!(mask_phone("+🙂🙂🙂🙂🙂🙂🙂"), "+***🙂🙂🙂🙂");
        assert_eq!(mask_phone("０５９２-２０３３９９０"), "０５９*******９０");
        assert_eq!(mask_phone("-------"), "---**--");
        for p in [
            "+",
            "+8",
            "+86",
            "+86🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
            "0-1234567",
            "05-",
            "é-é-é-é",
            "1🙂345678901",
        ] {
            let masked = mask_phone(p);
            assert_eq!(masked.chars().count(), p.chars().count(), "{p}");
        }
    }

    // ---- Age ----

    #[test]
    fn age_across_birthdays() {
        let birth = d(1990, 3, 15);
        assert_eq!(age_on(birth, d(2025, 3, 14)), 34);
        assert_eq!(age_on(birth, d(2025, 3, 15)), 35);
        assert_eq!(age_on(birth, d(2025, 12, 31)), 35);
        assert_eq!(age_on(birth, birth), 0);
        assert_eq!(age_on(birth, d(1991, 3, 14)), 0);
        assert_eq!(age_on(birth, d(1991, 3, 15)), 1);
        assert_eq!(age_on(birth, d(1980, 1, 1)), 0);
    }

    #[test]
    fn age_born_on_leap_day() {
        let birth = d(2000, 2, 29);
        assert_eq!(age_on(birth, d(2001, 2, 28)), 0);
        assert_eq!(age_on(birth, d(2001, 3, 1)), 1);
        assert_eq!(age_on(birth, d(2004, 2, 28)), 3);
        assert_eq!(age_on(birth, d(2004, 2, 29)), 4);
        assert_eq!(age_on(birth, d(2018, 2, 28)), 17);
        assert_eq!(age_on(birth, d(2018, 3, 1)), 18);
    }

    #[test]
    fn invalid_displays_english() {
        let e = Invalid::new("x is wrong", "x错误");
        assert_eq!(e.to_string(), "x is wrong");
    }
}
