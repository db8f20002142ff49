import { registerAs } from '@nestjs/config';
import { IsInt, IsNumber, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { EnvInt, EnvNumber } from '../config/env.transforms';
import { EnvSource, parseEnv } from '../config/validate-config';
import type { SimProvider } from './simulator.types';

/**
 * What the daemon's embedded simulator reads; validated at the daemon's boot
 * with every other namespace.
 */
export class SimulatorEnv {
  @EnvInt() @IsOptional() @IsInt() @Min(1) SIM_GLM_CAPACITY?: number;
  @EnvInt() @IsOptional() @IsInt() @Min(1) SIM_KIMI_CAPACITY?: number;
}

/**
 * The standalone simulator (`npm run simulator`) also picks its address and
 * speed. The daemon never reads these: its embedded simulator listens on an
 * ephemeral loopback port at full latency.
 */
export class StandaloneSimulatorEnv extends SimulatorEnv {
  @EnvInt() @IsInt() @Min(0) @Max(65535) SIM_PORT = 8090;
  @IsString() @MinLength(1) SIM_HOST = '127.0.0.1';
  @EnvNumber() @IsNumber() @Min(0) SIM_SPEED = 1;
}

export interface SimulatorConfig {
  /** Concurrent chat requests per provider across keys; unset = unlimited (simulator.capacity.ts). */
  capacity: Partial<Record<SimProvider, number>>;
}

export interface StandaloneSimulatorConfig extends SimulatorConfig {
  port: number;
  host: string;
  /** Multiplies every latency; 0 = instant. */
  speed: number;
}

function toSimulatorConfig(env: SimulatorEnv): SimulatorConfig {
  return { capacity: { glm: env.SIM_GLM_CAPACITY, kimi: env.SIM_KIMI_CAPACITY } };
}

/** @throws ConfigValidationError naming every bad variable. */
export function standaloneSimulatorConfig(env: EnvSource): StandaloneSimulatorConfig {
  const parsed = parseEnv(StandaloneSimulatorEnv, env);
  return { ...toSimulatorConfig(parsed), port: parsed.SIM_PORT, host: parsed.SIM_HOST, speed: parsed.SIM_SPEED };
}

export const simulatorConfig = registerAs('simulator', (): SimulatorConfig =>
  toSimulatorConfig(parseEnv(SimulatorEnv, process.env)),
);
