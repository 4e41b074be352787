/** @jest-config-loader ts-node */
/** @jest-config-loader-options {"transpileOnly": true, "compilerOptions": {"module": "CommonJS", "moduleResolution": "Bundler"}} */
import { createDefaultEsmPreset, type JestConfigWithTsJest } from 'ts-jest';

const config: JestConfigWithTsJest = {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  collectCoverageFrom: ['lib/**/*.ts'],
  // Checked when coverage is collected (`jest --coverage`); not on by default:
  // under ts-jest ESM it roughly doubles the suite's wall time.
  coverageThreshold: { global: { lines: 90, branches: 90 } },
  testTimeout: 60_000,
};

export default config;
