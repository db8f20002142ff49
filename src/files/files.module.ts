import { Module } from '@nestjs/common';
import { FileAccessService } from './file-access.service';

/** Reading agent-named files under EXAI_FILE_ROOTS, for every tool that embeds or uploads files. */
@Module({
  providers: [FileAccessService],
  exports: [FileAccessService],
})
export class FilesModule {}
