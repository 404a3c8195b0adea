import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fingerprint, lastFour, open, seal } from "./secretBox.ts";

const key = randomBytes(32);

describe("secretBox", () => {
  it("opens what it sealed", () => {
    const sealed = seal(key, "sk-live-abcdef123456", "row-1");
    expect(open(key, sealed, "row-1")).toBe("sk-live-abcdef123456");
  });

  it("never stores the plaintext and uses a fresh nonce each time", () => {
    const a = seal(key, "sk-live-abcdef123456", "row-1");
    const b = seal(key, "sk-live-abcdef123456", "row-1");
    expect(a.ciphertext.includes(Buffer.from("sk-live"))).toBe(false);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it("refuses another master key", () => {
    const sealed = seal(key, "secret-value-1", "row-1");
    expect(() => open(randomBytes(32), sealed, "row-1")).toThrow();
  });

  it("refuses a ciphertext moved to another row", () => {
    const sealed = seal(key, "secret-value-1", "agent-a/openai");
    expect(() => open(key, sealed, "agent-b/openai")).toThrow();
  });

  it("refuses a tampered ciphertext", () => {
    const sealed = seal(key, "secret-value-1", "row-1");
    sealed.ciphertext[0] = (sealed.ciphertext[0] ?? 0) ^ 1;
    expect(() => open(key, sealed, "row-1")).toThrow();
  });

  it("refuses a master key that is not 32 bytes", () => {
    expect(() => seal(randomBytes(16), "x", "row")).toThrow(/32 bytes/);
  });

  it("shows only a fingerprint and the last four characters", () => {
    expect(fingerprint("sk-abcdefgh1234")).toMatch(/^[0-9a-f]{12}$/);
    expect(lastFour("sk-abcdefgh1234")).toBe("1234");
    expect(lastFour("short")).toBe("");
  });
});
