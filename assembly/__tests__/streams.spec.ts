import { StreamTable } from "../streams";

describe("the stream table", () => {
  it("knows each live stream's root, and forgets a stream once deleted", () => {
    let table = new StreamTable();
    table.add(2, 1);
    table.add(3, 9);
    expect(table.root(2)).toBe(1);
    expect(table.root(3)).toBe(9);
    expect(table.remove(2)).toBe(true);
    expect(table.root(2)).toBe(0);
    expect(table.remove(2)).toBe(false);
    expect(table.root(3)).toBe(9);
  });
  it("answers 0 for a stream it never saw", () => {
    expect(new StreamTable().root(5)).toBe(0);
  });
  it("keeps a stream that outlives thousands of later ones sharing its slot", () => {
    let table = new StreamTable();
    table.add(7, 1);
    for (let id: u32 = 8; id < 20000; id++) {
      table.add(id, 2);
      if (id != 4096 + 7 && id != 8192 + 7) table.remove(id);
    }
    expect(table.root(7)).toBe(1);
    expect(table.root(4096 + 7)).toBe(2);
    expect(table.root(8192 + 7)).toBe(2);
    expect(table.remove(7)).toBe(true);
    expect(table.root(7)).toBe(0);
    expect(table.root(8192 + 7)).toBe(2);
  });
});
