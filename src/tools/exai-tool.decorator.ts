import { DiscoveryService } from '@nestjs/core';
import type { ExaiToolOptions } from './tool.types';

/**
 * Marks an injectable class as an EXAI tool. Any module in the application can
 * declare one; the registry finds it through DI discovery.
 *
 * @param options name, description and JSON-schema `inputSchema` shown by `list_tools`.
 * @returns a class decorator; the class must implement `ExaiToolHandler`.
 */
export const ExaiTool = DiscoveryService.createDecorator<ExaiToolOptions>();
