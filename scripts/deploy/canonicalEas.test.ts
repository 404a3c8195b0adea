import { describe, expect, it } from "vitest";
import { canonicalEas } from "./canonicalEas.ts";

describe("canonicalEas", () => {
  it("knows EAS on the chains operators deploy to", () => {
    expect(canonicalEas(1)?.eas).toBe("0xA1207F3BBa224E2c9c3c6D5aF63D0eb1582Ce587");
    expect(canonicalEas(11155111)?.eas).toBe("0xC2679fBD37d54388Ce493F1DB75320D236e1815e");
    for (const opStack of [8453, 84532, 10]) {
      expect(canonicalEas(opStack)).toMatchObject({
        eas: "0x4200000000000000000000000000000000000021",
        schemaRegistry: "0x4200000000000000000000000000000000000020",
      });
    }
    expect(canonicalEas(42161)?.eas).toBe("0xbD75f629A22Dc1ceD33dDA0b68c546A1c035c458");
  });

  it("has no canonical EAS for a local chain", () => {
    expect(canonicalEas(31337)).toBeUndefined();
  });
});
