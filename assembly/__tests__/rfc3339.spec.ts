import { Instant, parseRfc3339 } from "../rfc3339";

function ms(text: string): i64 {
  let instant = new Instant();
  return parseRfc3339(text, instant) ? instant.ms : -1;
}

describe("RFC 3339 UTC times", () => {
  it("read the epoch", () => {
    expect(ms("1970-01-01T00:00:00Z")).toBe(0);
  });
  it("read a date in 2027", () => {
    expect(ms("2027-01-31T23:59:59Z")).toBe(1801439999000);
  });
  it("read fractions as milliseconds", () => {
    expect(ms("2027-01-31T23:59:59.5Z")).toBe(1801439999500);
  });
  it("accept +00:00", () => {
    expect(ms("2027-01-31T23:59:59+00:00")).toBe(1801439999000);
  });
  it("reach year 9999 without overflow", () => {
    expect(ms("9999-12-31T23:59:59Z")).toBe(253402300799000);
  });
  it("refuse other offsets", () => {
    expect(ms("2027-01-31T23:59:59+01:00")).toBe(-1);
  });
  it("refuse impossible dates", () => {
    expect(ms("2027-02-29T00:00:00Z")).toBe(-1);
    expect(ms("2027-13-01T00:00:00Z")).toBe(-1);
    expect(ms("2027-01-01T24:00:00Z")).toBe(-1);
  });
  it("accept 29 February of a leap year", () => {
    expect(ms("2028-02-29T00:00:00Z")).toBe(1835395200000);
  });
  it("refuse a date without time", () => {
    expect(ms("2027-01-31")).toBe(-1);
  });
});
