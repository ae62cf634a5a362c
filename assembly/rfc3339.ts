// RFC 3339 timestamps in UTC ("2027-01-31T23:59:59Z", optional fraction), as milliseconds since the
// Unix epoch. Milliseconds in an i64 cover every four-digit year, so "9999-12-31T23:59:59Z" works
// as "forever". Pure; returns false on anything else.

import { Char } from "./chars";
export class Instant {
  ms: i64 = 0;
}

function digits(text: string, at: i32, count: i32): i32 {
  let value = 0;
  for (let i = 0; i < count; i++) {
    let c = text.charCodeAt(at + i) - Char.Digit0;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

function isLeap(year: i32): bool {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

function daysInMonth(year: i32, month: i32): i32 {
  if (month == 2) return isLeap(year) ? 29 : 28;
  return month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
export function daysFromCivil(year: i32, month: i32, day: i32): i64 {
  let y = <i64>(month <= 2 ? year - 1 : year);
  let era = (y >= 0 ? y : y - 399) / 400;
  let yoe = y - era * 400;
  let m = <i64>month;
  let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + <i64>day - 1;
  let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

export function parseRfc3339(text: string, out: Instant): bool {
  if (text.length < 20) return false;
  let year = digits(text, 0, 4);
  let month = digits(text, 5, 2);
  let day = digits(text, 8, 2);
  let hour = digits(text, 11, 2);
  let minute = digits(text, 14, 2);
  let second = digits(text, 17, 2);
  let t = text.charCodeAt(10);
  if (text.charCodeAt(4) != Char.Minus || text.charCodeAt(7) != Char.Minus || (t != Char.UpperT && t != Char.LowerT)) return false;
  if (text.charCodeAt(13) != Char.Colon || text.charCodeAt(16) != Char.Colon) return false;
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return false;
  if (day > daysInMonth(year, month) || second < 0 || second > 59) return false;
  let at = 19;
  let millis = 0;
  if (at < text.length && text.charCodeAt(at) == Char.Dot) {
    at++;
    let start = at;
    while (at < text.length) {
      let c = text.charCodeAt(at) - Char.Digit0;
      if (c < 0 || c > 9) break;
      if (at - start < 3) millis = millis * 10 + c;
      at++;
    }
    if (at == start) return false;
    for (let i = at - start; i < 3; i++) millis *= 10;
  }
  let zone = text.substring(at);
  if (zone != "Z" && zone != "z" && zone != "+00:00" && zone != "-00:00") return false;
  let days = daysFromCivil(year, month, day);
  out.ms = ((days * 24 + <i64>hour) * 60 + <i64>minute) * 60000 + <i64>second * 1000 + <i64>millis;
  return true;
}
